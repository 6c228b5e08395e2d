import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../../..');
export const API_MAIN = join(root, 'dist/apps/api/main.js');
export const SIMULATOR_MAIN = join(root, 'dist/tools/simulator/main.js');
export const CONSOLE_DIR = join(root, 'dist/apps/console/browser');
export const SCREENSHOT_DIR = join(root, 'dist/e2e-screenshots');
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

export interface Platform {
  url: string;
  mqttUrl: string;
  dataDir: string;
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export const ADMIN = { username: 'admin', password: 'e2e-admin-password' };

/**
 * Starts the built api as its own process, on free ports, serving the built
 * console, and resolves once both ports are known (read from its log).
 */
export async function startPlatform(
  dataDir = mkdtempSync(join(tmpdir(), 'iot-e2e-')),
  env: Record<string, string> = {},
): Promise<Platform> {
  const child: ChildProcess = spawn(process.execPath, [API_MAIN], {
    env: {
      ...process.env,
      PORT: '0',
      MQTT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      CONSOLE_DIR,
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      LOG_LEVEL: 'log',
      NO_COLOR: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ports = await new Promise<{ http: number; mqtt: number }>((resolvePorts, reject) => {
    let http: number | undefined;
    let mqtt: number | undefined;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      http ??= Number(/api listening on http:\/\/localhost:(\d+)/.exec(output)?.[1]) || undefined;
      mqtt ??= Number(/embedded MQTT broker listening on [\d.]+:(\d+)/.exec(output)?.[1]) || undefined;
      if (http && mqtt) resolvePorts({ http, mqtt });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the api exited (${code}) before it was ready:\n${output}`)));
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    url: `http://127.0.0.1:${ports.http}`,
    mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    dataDir,
    async stop(options) {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (!options?.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Starts the built simulator against a platform; `stop` ends it (SIGTERM closes its devices cleanly). */
export function startSimulator(platform: Platform, args: string[]): { stop(): Promise<void> } {
  const child = spawn(
    process.execPath,
    [
      SIMULATOR_MAIN,
      '--api',
      platform.url,
      '--mqtt',
      platform.mqttUrl,
      '--username',
      ADMIN.username,
      '--password',
      ADMIN.password,
      ...args,
    ],
    { stdio: 'ignore' },
  );
  return {
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Signs the admin in over REST; the Bearer token for the calls below. */
export async function adminToken(platform: Platform): Promise<string> {
  const login = await fetch(`${platform.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  });
  return ((await login.json()) as { accessToken: string }).accessToken;
}

/** Registers a device over REST, named `{type} {id}`; its MQTT credentials. */
export async function registerDevice(
  platform: Platform,
  token: string,
  id: string,
  type: string,
): Promise<{ username: string; password: string }> {
  const res = await fetch(`${platform.url}/api/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id, name: `${type} ${id}`, type }),
  });
  if (res.status !== 201) throw new Error(`register ${id}: ${res.status}`);
  return ((await res.json()) as { credentials: { username: string; password: string } }).credentials;
}
