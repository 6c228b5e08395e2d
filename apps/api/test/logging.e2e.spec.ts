import type { ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import mqtt from 'mqtt';
import type { CreateDeviceResponse } from '@iot/protocol';
import { LOG_LINES_PER_WINDOW } from '../src/platform/logging/rate-limited-log';
import { api, login, spawnApiFromSource, within } from './harness';

const ADMIN_PASSWORD = 'admin-password-for-logging-tests';
const WRONG_PASSWORD = 'not-the-password-of-mallory';
const WRONG_SECRET = 'a-wrong-device-secret-for-logs';

type Line = Record<string, unknown> & { level?: string; msg?: string; context?: string };

/** The api run from source (as startup.e2e.spec.ts does), its stdout kept line by line. */
class ChildApi {
  readonly lines: string[] = [];
  readonly dataDir = mkdtempSync(join(tmpdir(), 'iot-logging-'));
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  private waiters: Array<() => void> = [];
  stderr = '';

  constructor(env: Record<string, string>) {
    this.child = spawnApiFromSource({ DATA_DIR: this.dataDir, ADMIN_PASSWORD, ...env });
    let rest = '';
    this.child.stdout.on('data', (chunk: Buffer) => {
      const text = rest + chunk.toString();
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      this.lines.push(...parts);
      for (const waiter of this.waiters.splice(0)) waiter();
    });
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    // 'close': after the process exited and its output was read whole.
    this.exited = new Promise((done) => this.child.once('close', (code) => done(code)));
  }

  /** Resolves with the first line that satisfies `predicate`, waiting for it up to `ms`. */
  waitFor(predicate: (line: string) => boolean, ms = 20_000): Promise<string> {
    const found = new Promise<string>((done) => {
      const look = () => {
        const line = this.lines.find(predicate);
        if (line !== undefined) done(line);
        else this.waiters.push(look);
      };
      look();
    });
    return within(found, ms, `a log line; stderr: ${this.stderr}`);
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    const code = await within(this.exited, 15_000, 'the api to exit after SIGTERM');
    rmSync(this.dataDir, { recursive: true, force: true });
    return code;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function parsed(lines: string[]): Line[] {
  return lines.map((line) => JSON.parse(line) as Line);
}

describe('LOG_FORMAT=json', () => {
  let child: ChildApi;
  let url: string;
  let mqttUrl: string;

  beforeAll(async () => {
    child = new ChildApi({ LOG_FORMAT: 'json' });
    const summary = JSON.parse(await child.waitFor((line) => line.includes('"context":"main"'))) as Line;
    url = (summary['url'] as string).replace('localhost', '127.0.0.1');
    mqttUrl = `mqtt://${(summary['broker'] as string).replace('embedded on ', '')}`;
  }, 40_000);

  afterAll(() => child.kill());

  it('logs a request, a failed login, a flood of them, a refused device and a shutdown as JSON lines without secrets', async () => {
    const { accessToken } = await login(url, 'admin', ADMIN_PASSWORD);
    const device = await api<CreateDeviceResponse>({ url }, accessToken, 'POST', '/devices', {
      id: 'log-device',
      name: 'log device',
      type: 'thermostat',
    });
    expect(device.status).toBe(201);
    const secret = device.body.credentials.password;
    expect(secret.length).toBeGreaterThan(10);

    // A request id sent is kept and echoed; the line carries it and the user.
    const res = await fetch(`${url}/api/v1/devices/log-device`, {
      headers: { authorization: `Bearer ${accessToken}`, 'x-request-id': 'trace-42' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('trace-42');
    const requestLine = JSON.parse(await child.waitFor((line) => line.includes('"reqId":"trace-42"'))) as Line;
    expect(requestLine).toMatchObject({
      level: 'info',
      username: 'admin',
      deviceId: 'log-device',
      req: { method: 'GET', url: '/api/v1/devices/log-device' },
      res: { statusCode: 200 },
    });
    // Probes are not logged while they succeed.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // One that is not safe to log is replaced.
    const unsafe = await fetch(`${url}/api/v1/auth/me`, { headers: { 'x-request-id': 'evil\tid'.repeat(20) } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    // A failed login: a warning with the username and the address, never the password.
    const failed = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'mallory', password: WRONG_PASSWORD }),
    });
    expect(failed.status).toBe(401);
    const warning = JSON.parse(await child.waitFor((line) => line.includes('"username":"mallory"'))) as Line;
    expect(warning).toMatchObject({
      level: 'warn',
      msg: 'failed login',
      address: expect.stringMatching(/127\.0\.0\.1/),
    });
    expect(warning['reqId']).toBe(failed.headers.get('x-request-id'));

    // A flood of 50, each under another name (so the login throttle lets them all be checked).
    for (let batch = 0; batch < 5; batch++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          fetch(`${url}/api/v1/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username: `flood-${batch * 10 + i}`, password: WRONG_PASSWORD }),
          }).then((r) => expect(r.status).toBe(401)),
        ),
      );
    }

    // A device CONNECT with a wrong secret: a warning naming the device.
    await expect(
      mqtt.connectAsync(mqttUrl, {
        clientId: 'log-device',
        username: 'log-device',
        password: WRONG_SECRET,
        reconnectPeriod: 0,
        connectTimeout: 5_000,
      }),
    ).rejects.toThrow();
    const refused = JSON.parse(await child.waitFor((line) => line.includes('device CONNECT refused'))) as Line;
    expect(refused).toMatchObject({ level: 'warn', deviceId: 'log-device', context: 'EmbeddedBroker' });

    // With its real secret it connects; a message the platform refuses is a warning naming the device.
    const device1 = await mqtt.connectAsync(mqttUrl, {
      clientId: 'log-device',
      username: 'log-device',
      password: secret,
      reconnectPeriod: 0,
    });
    await device1.publishAsync('devices/log-device/telemetry', 'not json', { qos: 1 });
    const rejected = JSON.parse(await child.waitFor((line) => line.includes('"reason":"invalid_json"'))) as Line;
    expect(rejected).toMatchObject({ level: 'warn', deviceId: 'log-device', topic: 'devices/log-device/telemetry' });
    await device1.endAsync();

    // The event stream, served before Express, has its id too; it stays open until the shutdown.
    const stream = await fetch(`${url}/api/v1/stream`, {
      headers: { authorization: `Bearer ${accessToken}`, 'x-request-id': 'stream-7' },
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('x-request-id')).toBe('stream-7');

    // A clean shutdown says what it did and exits 0.
    expect(await child.stop()).toBe(0);
    const lines = parsed(child.lines);
    const stopped = lines.find((line) => line.msg?.startsWith('stopped:'));
    expect(stopped).toMatchObject({ level: 'info', signal: 'SIGTERM', sseStreams: 1, webSockets: 0 });
    expect(lines.find((line) => line['reqId'] === 'stream-7')).toMatchObject({ req: { url: '/api/v1/stream' } });
    expect(stopped?.['eventsFlushed']).toEqual(expect.any(Number));

    // The flood's warnings are bounded, and what was held back is counted (told at shutdown).
    const loginWarnings = lines.filter((line) => line.msg === 'failed login');
    expect(loginWarnings.length).toBe(LOG_LINES_PER_WINDOW);
    const suppressed = lines.find((line) => line.msg?.startsWith('failed logins: suppressed'));
    expect(suppressed?.['suppressed']).toBe(51 - LOG_LINES_PER_WINDOW);

    expect(lines.some((line) => (line['req'] as { url?: string } | undefined)?.url === '/healthz')).toBe(false);

    // Nest's start chatter is gone; one summary names what matters.
    const contexts = new Set(lines.map((line) => line.context));
    for (const chatter of ['InstanceLoader', 'RoutesResolver', 'RouterExplorer'])
      expect(contexts.has(chatter)).toBe(false);
    const summary = lines.find((line) => line.context === 'main');
    expect(Object.keys(summary ?? {})).toEqual(expect.arrayContaining(['url', 'broker', 'database', 'login']));

    // No secret anywhere: passwords, the token, the device's secret (the real one and the wrong one).
    const all = child.lines.join('\n');
    for (const kept of [ADMIN_PASSWORD, WRONG_PASSWORD, WRONG_SECRET, accessToken, secret]) {
      expect(all).not.toContain(kept);
    }
    expect(child.stderr).toBe('');
  }, 60_000);
});

describe('the default log format', () => {
  it('is readable lines without colour codes when stdout is not a terminal', async () => {
    const child = new ChildApi({});
    try {
      await child.waitFor((line) => line.includes('api listening on'), 40_000);
      expect({ code: await child.stop(), stderr: child.stderr }).toEqual({ code: 0, stderr: '' });
      expect(child.lines.length).toBeGreaterThan(0);
      for (const line of child.lines) {
        expect(line).not.toContain('\x1b');
        expect(line.startsWith('{')).toBe(false);
      }
      expect(child.lines.some((line) => /INFO: \[main\] stopped: closed 0 event streams/.test(line))).toBe(true);
    } finally {
      child.kill();
    }
  }, 60_000);
});

describe('a failed start with LOG_FORMAT=json', () => {
  it('is one JSON line on stderr, with its exit code', async () => {
    const child = new ChildApi({ LOG_FORMAT: 'json', PORT: 'eighty' });
    try {
      expect(await within(child.exited, 30_000, 'the api to exit')).toBe(78);
      const lines = child.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0])).toMatchObject({
        level: 'fatal',
        exitCode: 78,
        msg: expect.stringMatching(/^invalid configuration:\n {2}- PORT/),
      });
      expect(child.lines).toEqual([]);
    } finally {
      child.kill();
    }
  }, 40_000);
});
