import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app/create-app';
import { loadConfig } from '../src/platform/config/config';
import { api, login, spawnApiFromSource } from './harness';

interface Exit {
  code: number | null;
  stderr: string;
}

/** Runs the api from source (apps/api/src/app/main.ts) as `npm start` would, until it exits. */
function startApi(env: Record<string, string>): Promise<Exit> {
  return new Promise((done, fail) => {
    const child = spawnApiFromSource({ LOG_LEVEL: 'error', ...env });
    child.stdout.resume();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`the api did not exit within 30 s; stderr: ${stderr}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stderr });
    });
  });
}

/** A stack frame as Node prints it. */
const STACK_LINE = /^\s+at /m;

describe('a start that fails says why, without a stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iot-startup-'));
  let blocker: Server;
  let takenPort: number;

  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    takenPort = (blocker.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((done) => blocker.close(() => done()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 78 listing every bad variable, DATABASE_URL among them', async () => {
    const { code, stderr } = await startApi({
      DATA_DIR: join(dir, 'env'),
      DATABASE_URL: 'mysql://iot:secret@db:3306/iot',
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      ADMIN_USERNAME: 'bad name!',
      MQTT_URL: 'mqtt://[broken',
    });

    expect(code).toBe(78);
    expect(stderr).toMatch(/^invalid configuration:/);
    for (const name of ['DATABASE_URL', 'PORT', 'LOG_LEVEL', 'ADMIN_USERNAME', 'MQTT_URL']) {
      expect(stderr).toMatch(new RegExp(`^  - ${name}`, 'm'));
    }
    expect(stderr).not.toMatch(STACK_LINE);
  });

  it('exits 78 when DATA_DIR is a file, or cannot be made under one', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');

    const [asFile, under] = await Promise.all([
      startApi({ DATA_DIR: file }),
      startApi({ DATA_DIR: join(file, 'data') }),
    ]);

    expect(asFile.code).toBe(78);
    expect(asFile.stderr).toContain(`DATA_DIR ${file} is a file, not a folder`);
    expect(under.code).toBe(78);
    expect(under.stderr).toMatch(/DATA_DIR .* cannot be created: ENOTDIR/);
    expect(asFile.stderr + under.stderr).not.toMatch(STACK_LINE);
  });

  it('exits 78 when the database in DATA_DIR is not an SQLite file', async () => {
    const data = join(dir, 'corrupt');
    mkdirSync(data);
    writeFileSync(join(data, 'iot.db'), 'this is not a database');

    const { code, stderr } = await startApi({ DATA_DIR: data });

    expect(code).toBe(78);
    expect(stderr).toContain('iot.db is not an SQLite database');
    expect(stderr).not.toMatch(STACK_LINE);
  });

  // Root may write anywhere, so the mode check only shows as another user.
  (process.getuid?.() === 0 ? it.skip : it)('exits 78 when DATA_DIR is not writable', async () => {
    const data = join(dir, 'read-only');
    mkdirSync(data, { mode: 0o500 });

    const { code, stderr } = await startApi({ DATA_DIR: data });

    expect(code).toBe(78);
    expect(stderr).toContain(`DATA_DIR ${data} is not writable`);
  });

  it('exits 69 with one line naming the variable when the HTTP or MQTT port is in use', async () => {
    const [http, mqtt] = await Promise.all([
      startApi({ DATA_DIR: join(dir, 'http-port'), PORT: String(takenPort) }),
      startApi({ DATA_DIR: join(dir, 'mqtt-port'), MQTT_PORT: String(takenPort) }),
    ]);

    expect(http.code).toBe(69);
    expect(http.stderr).toContain(`cannot start: the HTTP port ${takenPort} (PORT) is in use on 127.0.0.1`);
    expect(mqtt.code).toBe(69);
    expect(mqtt.stderr).toContain(`cannot start: the MQTT port ${takenPort} (MQTT_PORT) is in use on 127.0.0.1`);
    expect(http.stderr + mqtt.stderr).not.toMatch(STACK_LINE);
  });
});

describe('the generated first admin password', () => {
  it('is kept in DATA_DIR only until the admin changes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iot-initial-password-'));
    const file = join(dir, 'initial-admin-password');
    const config = loadConfig({ PORT: '0', MQTT_PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, LOG_LEVEL: 'error' });
    const app = await createApp(config);
    try {
      const generated = readFileSync(file, 'utf8').trim();
      expect(generated.length).toBeGreaterThanOrEqual(12);
      const { accessToken } = await login(app.url, 'admin', generated);

      const other = await api(app, accessToken, 'POST', '/users', {
        username: 'jane',
        password: 'jane-password-1',
        role: 'viewer',
      });
      expect(other.status).toBe(201);
      await api(app, accessToken, 'PATCH', '/users/jane', { password: 'jane-password-2' });
      expect(existsSync(file)).toBe(true);

      const changed = await api(app, accessToken, 'PATCH', '/users/admin', { password: 'a-new-admin-password' });

      expect(changed.status).toBe(200);
      expect(existsSync(file)).toBe(false);
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
