/**
 * The package as a user outside the monorepo gets it: built by the package build,
 * packed with `npm pack`, unpacked into a temporary project's node_modules, then
 * required from CommonJS, imported from an ES module, type-checked with tsc, and the
 * README's example run against a broker.
 *
 * The tarball is unpacked rather than `npm install`ed because an offline install
 * cannot resolve `mqtt` and `zod` from npm's cache; their workspace copies are
 * linked where npm would place them, and the manifest's dependencies are checked
 * against what the packed code requires.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { topics } from '@iot/protocol';
import { startRecorder, startTestBroker, type Recorder, type TestBroker } from './testing/test-broker';

const LIB_ROOT = path.resolve(__dirname, '..');
const WORKSPACE = path.resolve(LIB_ROOT, '../..');
const NAME = '@iot/device-sdk';
const DEVICES = { cjs: 'pack-cjs', esm: 'pack-esm', example: 'pack-example' } as const;
const SECRET = 'pack-secret';
/** Each child process gets this long before it is killed and the test fails. */
const CHILD_TIMEOUT_MS = 20_000;

interface PackedFile {
  path: string;
}
interface PackResult {
  filename: string;
  files: PackedFile[];
}
interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  main: string;
  types: string;
  license?: string;
  engines?: Record<string, string>;
  files?: string[];
  exports: Record<string, unknown>;
  dependencies: Record<string, string>;
}

/** Runs a command to completion without blocking the event loop (the broker runs in this process). */
function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: CHILD_TIMEOUT_MS },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

describe('the packed @iot/device-sdk, used from a project outside the monorepo', () => {
  jest.setTimeout(60_000);

  let temp: string;
  let project: string;
  let packed: PackResult;
  let manifest: Manifest;
  let broker: TestBroker;
  let platform: Recorder;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    temp = mkdtempSync(path.join(tmpdir(), 'device-sdk-pack-'));
    const build = path.join(temp, 'build');
    execFileSync(process.execPath, [path.join(LIB_ROOT, 'scripts/build-package.mjs'), `--out=${build}`], {
      cwd: WORKSPACE,
      stdio: 'pipe',
    });
    const json = execFileSync('npm', ['pack', build, '--pack-destination', temp, '--json', '--ignore-scripts'], {
      cwd: temp,
      encoding: 'utf8',
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
    });
    packed = (JSON.parse(json) as PackResult[])[0];

    // What `npm install <tarball>` leaves: the package in node_modules/@iot/device-sdk, its dependencies beside it.
    project = path.join(temp, 'project');
    const modules = path.join(project, 'node_modules');
    mkdirSync(path.join(modules, '@iot'), { recursive: true });
    execFileSync('tar', ['-xzf', path.join(temp, packed.filename), '-C', temp]);
    renameSync(path.join(temp, 'package'), path.join(modules, NAME));
    manifest = JSON.parse(readFileSync(path.join(modules, NAME, 'package.json'), 'utf8')) as Manifest;
    for (const dependency of [...Object.keys(manifest.dependencies), '@types/node']) {
      mkdirSync(path.dirname(path.join(modules, dependency)), { recursive: true });
      symlinkSync(path.join(WORKSPACE, 'node_modules', dependency), path.join(modules, dependency), 'dir');
    }
    writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({
        name: 'sdk-consumer',
        version: '1.0.0',
        private: true,
        dependencies: { [NAME]: `file:../${packed.filename}` },
      }),
    );

    broker = await startTestBroker(Object.fromEntries(Object.values(DEVICES).map((id) => [id, SECRET])));
    platform = await startRecorder(broker);
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await platform?.close();
    await broker?.close();
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  it('packs compiled JavaScript, types and the README, and no sources or test helpers', () => {
    const files = packed.files.map((f) => f.path).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'lib/device-sdk/src/index.js',
        'lib/device-sdk/src/index.d.ts',
        'lib/device-sdk/src/lib/device-client.js',
        'lib/protocol/src/index.js',
        'lib/protocol/src/index.d.ts',
      ]),
    );
    const stray = files.filter((f) => !/\.(js|d\.ts)$/.test(f) && f !== 'package.json' && f !== 'README.md');
    expect(stray).toEqual([]);
    expect(files.filter((f) => /spec|testing|test-broker/.test(f))).toEqual([]);
  });

  it('has a publishable manifest whose dependencies cover what the code requires, at the workspace ranges', () => {
    const root = JSON.parse(readFileSync(path.join(WORKSPACE, 'package.json'), 'utf8')) as Manifest;
    const unpacked = path.join(project, 'node_modules', NAME);
    expect(manifest).toMatchObject({ name: NAME, license: 'MIT', main: expect.any(String), types: expect.any(String) });
    expect(manifest.private).toBeUndefined();
    expect(manifest.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(manifest.engines?.['node']).toBeDefined();
    expect(manifest.files).toBeDefined();
    expect(existsSync(path.join(unpacked, manifest.main))).toBe(true);
    expect(existsSync(path.join(unpacked, manifest.types))).toBe(true);
    expect(manifest.exports['.']).toEqual({ types: manifest.types, default: manifest.main });
    for (const [name, range] of Object.entries(manifest.dependencies))
      expect([name, range]).toEqual([name, root.dependencies[name]]);

    // Every bare specifier the packed code requires is a declared dependency (or a Node built-in).
    const required = new Set<string>();
    for (const file of packed.files.map((f) => f.path).filter((f) => f.endsWith('.js'))) {
      const code = readFileSync(path.join(unpacked, file), 'utf8');
      for (const match of code.matchAll(/require\("([^"]+)"\)/g)) required.add(match[1]);
      expect(code).not.toContain('@iot/protocol');
    }
    const bare = [...required].filter((s) => !s.startsWith('.') && !s.startsWith('node:')).sort();
    expect(bare).toEqual(Object.keys(manifest.dependencies).sort());
  });

  /** A script that connects one device, publishes one telemetry message at QoS 1 and closes. */
  function clientScript(load: string, marker: string): string {
    return [
      load,
      `const device = connectDevice({ url: process.env.MQTT_URL, deviceId: process.env.DEVICE_ID, password: process.env.DEVICE_SECRET, reconnectPeriod: 0 });`,
      `device.on('error', (error) => { console.error(error.message); process.exitCode = 2; });`,
      `device.waitForConnect()`,
      `  .then(() => device.publishTelemetry({ ${marker}: 1 }, { qos: 1 }))`,
      `  .then(() => device.close())`,
      `  .then(() => console.log('published'), (error) => { console.error(error); process.exitCode = 1; });`,
      ``,
    ].join('\n');
  }

  function env(deviceId: string): NodeJS.ProcessEnv {
    return { MQTT_URL: broker.url, DEVICE_ID: deviceId, DEVICE_SECRET: SECRET, NODE_OPTIONS: '' };
  }

  it('connects from a CommonJS script and its telemetry reaches the broker', async () => {
    writeFileSync(
      path.join(project, 'client.cjs'),
      clientScript(`const { connectDevice } = require('${NAME}');`, 'fromCommonJs'),
    );
    const result = await run(process.execPath, ['client.cjs'], { cwd: project, env: env(DEVICES.cjs) });
    expect(result).toEqual({ code: 0, output: 'published\n' });
    // The recorder keeps what it saw, so waiting after the script ended misses nothing.
    const telemetry = await platform.waitFor((m) => m.topic === topics.telemetry(DEVICES.cjs));
    expect(JSON.parse(telemetry[0].text)).toEqual({ fromCommonJs: 1 });
  });

  it('connects from an ES module with named imports and its telemetry reaches the broker', async () => {
    writeFileSync(
      path.join(project, 'client.mjs'),
      clientScript(`import { connectDevice } from '${NAME}';`, 'fromEsm'),
    );
    const result = await run(process.execPath, ['client.mjs'], { cwd: project, env: env(DEVICES.esm) });
    expect(result).toEqual({ code: 0, output: 'published\n' });
    // The recorder keeps what it saw, so waiting after the script ended misses nothing.
    const telemetry = await platform.waitFor((m) => m.topic === topics.telemetry(DEVICES.esm));
    expect(JSON.parse(telemetry[0].text)).toEqual({ fromEsm: 1 });
  });

  /** The README's complete example, verbatim. */
  function readmeExample(): string {
    const readme = readFileSync(path.join(project, 'node_modules', NAME, 'README.md'), 'utf8');
    const section = readme.split('\n## A complete example\n')[1] ?? '';
    const example = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    if (!example) throw new Error('README.md has no ```js block under "## A complete example"');
    return example;
  }

  it('type-checks against its .d.ts from ESM and CommonJS TypeScript (nodenext, strict), the README example too', async () => {
    writeFileSync(
      path.join(project, 'check.mts'),
      [
        `import { connectDevice, DeviceClient, type ConnectDeviceOptions, type TelemetryPayload, type TimedTelemetry } from '${NAME}';`,
        `const options: ConnectDeviceOptions = { url: 'mqtt://127.0.0.1:1883', deviceId: 'd-1', password: 'p' };`,
        `const device: DeviceClient = connectDevice(options);`,
        `const payload: TelemetryPayload = [{ ts: Date.now(), values: { temperature: 21.5 } }];`,
        `void device.publishTelemetry(payload, { qos: 1 });`,
        `device.onDesiredState(({ version, state }) => { const v: number = version; void v; void state; });`,
        `device.onCommand('reboot', (params, command) => ({ at: command.issuedAt, params }));`,
        `// @ts-expect-error QoS 2 is not part of the contract`,
        `void device.publishTelemetry(payload, { qos: 2 });`,
        `// @ts-expect-error a timed entry needs its values (a type from zod, so zod's types resolve)`,
        `const timed: TimedTelemetry = { ts: Date.now() };`,
        `void timed;`,
        `// @ts-expect-error the device id is required`,
        `connectDevice({ url: 'mqtt://127.0.0.1:1883', password: 'p' });`,
        `// @ts-expect-error a desired state version is a number`,
        `device.onDesiredState(({ version }) => { const v: string = version; void v; });`,
        `import { defineModel } from '${NAME}';`,
        `import * as z from 'zod';`,
        `const model = defineModel({ id: 'acme.lamp', version: 1, commands: { dim: { params: z.object({ level: z.number() }) } } });`,
        `const lamp = connectDevice({ url: 'mqtt://127.0.0.1:1883', deviceId: 'd-2', password: 'p', model });`,
        `lamp.onCommand('dim', ({ level }) => ({ level: level + 1 }));`,
        `// @ts-expect-error the model has no such command`,
        `lamp.onCommand('explode', () => undefined);`,
        ``,
      ].join('\n'),
    );
    writeFileSync(
      path.join(project, 'check.cts'),
      [
        `import sdk = require('${NAME}');`,
        `const device: sdk.DeviceClient = sdk.connectDevice({ url: 'mqtt://127.0.0.1:1883', deviceId: 'd-1', password: 'p' });`,
        `// @ts-expect-error a state patch is an object`,
        `void device.reportState('on');`,
        ``,
      ].join('\n'),
    );
    writeFileSync(path.join(project, 'device.mts'), readmeExample());
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          types: ['node'],
          // Checking mqtt's and zod's own declarations takes seconds; the expected errors above
          // already fail if any of the package's types resolved to `any`.
          skipLibCheck: true,
        },
        files: ['check.mts', 'check.cts', 'device.mts'],
      }),
    );
    const tsc = path.join(WORKSPACE, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project });
    expect(result).toEqual({ code: 0, output: '' });
  });

  it('runs the README example: telemetry, a command, the desired state, and offline on SIGTERM', async () => {
    writeFileSync(path.join(project, 'device.mjs'), readmeExample());
    const id = DEVICES.example;
    const child = spawn(process.execPath, ['device.mjs'], {
      cwd: project,
      env: { ...process.env, ...env(id), TELEMETRY_INTERVAL_MS: '60000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stopping = false;
    // Fails a wait at once if the example dies early, rather than at the wait's timeout.
    const died = exited.then((code) =>
      stopping
        ? new Promise<never>(() => undefined)
        : Promise.reject(new Error(`device.mjs exited (${code}):\n${output}`)),
    );
    died.catch(() => undefined);
    /** Waits for `expected` (a JSON value, or the plain text of a status) on `topic`. */
    const expectMessage = async (topic: string, expected: unknown): Promise<void> => {
      const text = typeof expected === 'string' ? expected : JSON.stringify(expected);
      const found = await Promise.race([
        platform.waitFor((m) => m.topic === topic && m.text === text, 1, CHILD_TIMEOUT_MS),
        died,
      ]);
      expect(found).toHaveLength(1);
    };

    await expectMessage(topics.status(id), 'online');
    await expectMessage(topics.telemetry(id), { temperature: 16.3, setpoint: 20 });

    const commandId = 'cmd-pack-1';
    await platform.client.publishAsync(
      topics.command(id, commandId),
      JSON.stringify({
        name: 'setpoint.set',
        params: { value: 23 },
        issuedAt: Date.now(),
        expiresAt: Date.now() + 60_000,
      }),
      { qos: 1 },
    );
    await expectMessage(topics.commandResult(id, commandId), { status: 'succeeded', result: { setpoint: 23 } });
    await expectMessage(topics.stateReported(id), { setpoint: 23 });

    await platform.client.publishAsync(
      topics.stateDesired(id),
      JSON.stringify({ version: 4, state: { setpoint: 19 } }),
      {
        qos: 1,
      },
    );
    await expectMessage(topics.stateReported(id), { setpoint: 19, desiredVersion: 4 });

    stopping = true;
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expectMessage(topics.status(id), 'offline');
    expect(output).toBe(`connected as ${id}\nstopped\n`);
  });
});
