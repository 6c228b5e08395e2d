#!/usr/bin/env node
// `npm start`: builds what is needed, then runs the api (embedded broker,
// SQLite in DATA_DIR, the console at /) and a simulated fleet beside it.
// Flags: --no-simulator, --devices N (default 10), --rate R (messages/s per device), --no-build.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    simulator: { type: 'boolean', default: true },
    'no-simulator': { type: 'boolean', default: false },
    build: { type: 'boolean', default: true },
    'no-build': { type: 'boolean', default: false },
    devices: { type: 'string', default: process.env.SIM_DEVICES ?? '10' },
    rate: { type: 'string', default: process.env.SIM_RATE ?? '1' },
  },
  strict: true,
});
const withSimulator = flags.simulator && !flags['no-simulator'] && process.env.SIMULATOR !== '0';
const env = {
  NX_NO_CLOUD: 'true',
  NX_DAEMON: 'false',
  NX_TUI: 'false',
  NG_CLI_ANALYTICS: 'false',
  ...process.env,
};
const port = Number(env.PORT ?? 3000);
const dataDir = resolve(env.DATA_DIR ?? 'data');
// With LOG_FORMAT=json every line on stdout and stderr is a JSON object, as the api's are (README, "Logs").
const json = env.LOG_FORMAT === 'json';
function say(level, context, msg) {
  const stream = level === 'info' ? process.stdout : process.stderr;
  stream.write(json ? `${JSON.stringify({ level, time: new Date().toISOString(), context, msg })}\n` : `${msg}\n`);
}
/** A child's output, line by line, as JSON objects of `context` (its own lines are plain text). */
function wrapLines(readable, level, context) {
  createInterface({ input: readable }).on('line', (line) => say(level, context, line.replace(/^simulator: /, '')));
}

if (flags.build && !flags['no-build']) {
  const projects = withSimulator ? 'api,console,simulator' : 'api,console';
  say('info', 'start', `building ${projects} …`);
  const build = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '-p', projects, '--outputStyle=static'], {
    stdio: ['ignore', 'ignore', json ? 'pipe' : 'inherit'],
    env,
  });
  if (json) for (const line of String(build.stderr ?? '').split('\n')) if (line.trim()) say('warn', 'build', line);
  if (build.status !== 0) {
    say('error', 'start', 'the build failed; run `npx nx run-many -t build -p api,console` to see why');
    process.exit(build.status ?? 1);
  }
}

const children = [];
let stopping = false;
function stopAll(code) {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 3000).unref();
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

// README, "Node options"; tools/bench and the Docker image start the api the same way.
const apiNodeArgs = [`--max-semi-space-size=${env.MEMORY_PROFILE === 'throughput' ? 64 : 8}`];
const api = spawn(process.execPath, [...apiNodeArgs, 'dist/apps/api/main.js'], {
  stdio: 'inherit',
  env: { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', ...env, DATA_DIR: dataDir },
});
children.push(api);
api.on('exit', (code) => {
  if (stopping) return;
  say('error', 'start', `the api exited (${code ?? 'signal'})`);
  stopAll(code || 1);
});

async function waitReady() {
  for (let i = 0; i < 600; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the api did not become ready within 60 s');
}

await waitReady();
const username = env.ADMIN_USERNAME || 'admin';
const password = await newsworthyPassword();

/**
 * The generated first admin password, while it is still true: the api keeps it
 * in DATA_DIR/initial-admin-password until the admin changes it. A password
 * given in ADMIN_PASSWORD is the operator's own and never printed; a file an
 * older version left behind is checked with a login (and removed if refused).
 */
async function newsworthyPassword() {
  if (env.ADMIN_PASSWORD) return undefined;
  const file = join(dataDir, 'initial-admin-password');
  if (!existsSync(file)) return undefined;
  const generated = readFileSync(file, 'utf8').trim();
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: generated }),
    });
    if (res.status === 401) rmSync(file, { force: true });
    if (!res.ok) return undefined;
    const { accessToken } = await res.json();
    await fetch(`http://127.0.0.1:${port}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    return generated;
  } catch {
    return undefined;
  }
}

if (withSimulator) {
  const sim = spawn(
    process.execPath,
    [
      'dist/tools/simulator/main.js',
      '--devices', flags.devices,
      '--rate', flags.rate,
      '--api', `http://127.0.0.1:${port}`,
      ...(env.MQTT_URL ? ['--mqtt', env.MQTT_URL] : ['--mqtt', `mqtt://127.0.0.1:${env.MQTT_PORT ?? 1883}`]),
    ],
    // Its own login and its devices' secrets live in DATA_DIR; the admin's password is used once at most, to make that login.
    { stdio: json ? ['ignore', 'pipe', 'pipe'] : 'inherit', env: { ...env, DATA_DIR: dataDir } },
  );
  if (json) {
    wrapLines(sim.stdout, 'info', 'simulator');
    wrapLines(sim.stderr, 'error', 'simulator');
  }
  children.push(sim);
  sim.on('exit', (code) => {
    if (code) say('error', 'start', `the simulator exited (${code}); the api keeps running`);
  });
}

const summary = [
  `IoT platform is running: http://localhost:${port}`,
  `log in as "${username}" with ${
    password
      ? `the generated password "${password}" (change it: it is not shown again after that)`
      : env.ADMIN_PASSWORD
        ? 'the password you set (ADMIN_PASSWORD)'
        : 'your password'
  }`,
  withSimulator
    ? `${flags.devices} simulated devices are publishing (--no-simulator turns them off)`
    : 'no simulator (start one with `npm run simulate`)',
  `API docs: http://localhost:${port}/api/docs · metrics: http://localhost:${port}/metrics`,
];
if (json) for (const line of summary) say('info', 'start', line);
else console.log(`\n${summary.map((line) => `  ${line}`).join('\n')}\n`);
