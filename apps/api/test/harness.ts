import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { EventSource } from 'eventsource';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { CreateDeviceResponse, Role } from '@iot/protocol';
import { type RunningApp, createApp } from '../src/app/create-app';
import { loadConfig } from '../src/platform/config/config';
import { startPostgres, type TestPostgres } from './postgres';

export const ADMIN = { username: 'admin', password: 'admin-password-for-tests' };

export interface TestApp extends RunningApp {
  dataDir: string;
  mqttUrl: string;
  adminToken: string;
  /** Stops the app; `keepData` leaves DATA_DIR for a restart. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * With IOT_TEST_POSTGRES=1, every app a test file starts runs on PostgreSQL:
 * one cluster per file, a database per DATA_DIR (so a restart on the same
 * DATA_DIR finds its data), e.g. `IOT_TEST_POSTGRES=1 npx jest … control.e2e.spec.ts`.
 */
const onPostgres = process.env['IOT_TEST_POSTGRES'] === '1';
let cluster: TestPostgres | undefined;
const databases = new Map<string, string>();
if (onPostgres) afterAll(() => cluster?.stop());

async function databaseFor(dir: string): Promise<string> {
  cluster ??= await startPostgres();
  const name = `iot_${basename(dir)
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()}`;
  let url = databases.get(name);
  if (url === undefined) databases.set(name, (url = cluster.createDatabase(name)));
  return url;
}

/** Starts the real api on free ports with a fresh DATA_DIR (or the one given). */
export async function startApp(env: Record<string, string> = {}, dataDir?: string): Promise<TestApp> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'iot-api-test-'));
  if (onPostgres && env['DATABASE_URL'] === undefined) env = { ...env, DATABASE_URL: await databaseFor(dir) };
  const config = loadConfig({
    PORT: '0',
    MQTT_PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: 'error',
    ...env,
  });
  const running = await createApp(config);
  const adminToken = (await login(running.url, ADMIN.username, ADMIN.password)).accessToken;
  return {
    ...running,
    dataDir: dir,
    mqttUrl: env['MQTT_URL'] ?? `mqtt://127.0.0.1:${running.mqttPort}`,
    adminToken,
    async stop(options) {
      await running.close();
      if (!options?.keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function login(url: string, username: string, password: string): Promise<{ accessToken: string }> {
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { accessToken: string };
}

/** Calls the REST API; returns status and parsed body. */
export async function api<T = unknown>(
  app: Pick<TestApp, 'url'>,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${app.url}/api/v1${path}`, {
    method,
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export async function createDevice(app: TestApp, id: string, type = 'thermostat'): Promise<CreateDeviceResponse> {
  const { status, body } = await api<CreateDeviceResponse>(app, app.adminToken, 'POST', '/devices', {
    id,
    name: id,
    type,
  });
  if (status !== 201) throw new Error(`create device failed: ${status} ${JSON.stringify(body)}`);
  return body;
}

export async function createUser(app: TestApp, username: string, role: Role): Promise<string> {
  const password = `${username}-password`;
  const { status } = await api(app, app.adminToken, 'POST', '/users', { username, password, role });
  if (status !== 201) throw new Error(`create user failed: ${status}`);
  return (await login(app.url, username, password)).accessToken;
}

/** Connects as a device (client id = username = device id). */
export function connectDevice(
  app: Pick<TestApp, 'mqttUrl'>,
  credentials: { username: string; password: string },
  options: IClientOptions = {},
): Promise<MqttClient> {
  return mqtt.connectAsync(app.mqttUrl, {
    clientId: credentials.username,
    username: credentials.username,
    password: credentials.password,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ...options,
  });
}

/** Resolves when the client is closed by the other side. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve();
    client.once('close', () => resolve());
  });
}

export interface ReceivedEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** A real EventSource on the stream, recording every event. */
export class StreamRecorder {
  readonly events: ReceivedEvent[] = [];
  readonly source: EventSource;
  private waiters: Array<() => void> = [];
  private openPromise: Promise<void>;

  constructor(app: Pick<TestApp, 'url'>, token: string, query = '', lastEventId?: string) {
    this.source = new EventSource(`${app.url}/api/v1/stream${query}`, {
      fetch: (input, init) =>
        fetch(input, {
          ...init,
          headers: {
            ...(init?.headers as Record<string, string>),
            authorization: `Bearer ${token}`,
            ...(lastEventId && { 'last-event-id': lastEventId }),
          },
        }),
    });
    this.openPromise = new Promise((resolve, reject) => {
      this.source.addEventListener('open', () => resolve(), { once: true });
      this.source.addEventListener('error', (e) => reject(new Error(`stream error: ${String(e.message)}`)), {
        once: true,
      });
    });
    for (const type of ['telemetry', 'status', 'state', 'command', 'alarm', 'reset']) {
      this.source.addEventListener(type, (e) => {
        this.events.push({ id: e.lastEventId, type, data: JSON.parse(e.data) as Record<string, unknown> });
        for (const waiter of this.waiters.splice(0)) waiter();
      });
    }
  }

  opened(): Promise<void> {
    return this.openPromise;
  }

  of(type: string, deviceId?: string): ReceivedEvent[] {
    return this.events.filter((e) => e.type === type && (deviceId === undefined || e.data['deviceId'] === deviceId));
  }

  /** Resolves once `predicate` holds for the events so far; rejects after `timeoutMs`. */
  async waitFor(predicate: (events: ReceivedEvent[]) => boolean, timeoutMs = 5_000): Promise<ReceivedEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; got ${JSON.stringify(this.events.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.events;
  }

  close(): void {
    this.source.close();
  }
}

/** Subscribes a device to its errors topic and returns the next notice. */
export async function nextErrorNotice(
  client: MqttClient,
  deviceId: string,
): Promise<() => Promise<{ topic: string; error: string; ts: number }>> {
  await client.subscribeAsync(`devices/${deviceId}/errors`);
  return () =>
    new Promise((resolve) => {
      const onMessage = (topic: string, payload: Buffer) => {
        if (topic !== `devices/${deviceId}/errors`) return;
        client.off('message', onMessage);
        resolve(JSON.parse(payload.toString()) as { topic: string; error: string; ts: number });
      };
      client.on('message', onMessage);
    });
}

/** Rejects with `what` when `promise` has not settled within `ms` (a failing test then says why). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The values of `key` in a device's telemetry history, oldest first. */
export async function historyOf(
  app: Pick<TestApp, 'url' | 'adminToken'>,
  deviceId: string,
  key: string,
): Promise<unknown[]> {
  const { status, body } = await api<{ series: Record<string, Array<[number, unknown]>> }>(
    app,
    app.adminToken,
    'GET',
    `/devices/${deviceId}/telemetry?keys=${key}&limit=100000`,
  );
  if (status !== 200) throw new Error(`history: ${status}`);
  return (body.series[key] ?? []).map(([, value]) => value);
}

/** The value on the /metrics line of `name`, labels included (`iot_messages_rejected_total{reason="x"}`); 0 when absent. */
export async function metric(app: Pick<TestApp, 'url'>, name: string): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

/**
 * The api run from source (apps/api/src/app/main.ts) in a child process, as `npm start` runs the build:
 * on 127.0.0.1 with free ports, `env` on top. Read or resume both pipes.
 */
export function spawnApiFromSource(env: Record<string, string>): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, ['--require', '@swc-node/register', 'apps/api/src/app/main.ts'], {
    cwd: resolve(__dirname, '../../..'),
    env: {
      PATH: process.env['PATH'] ?? '',
      SWC_NODE_PROJECT: resolve(__dirname, '../bench/tsconfig.json'),
      HOST: '127.0.0.1',
      PORT: '0',
      MQTT_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A device that answers every command with success, echoing its params. */
export async function answeringDevice(
  app: TestApp,
  credentials: { username: string; password: string },
): Promise<MqttClient> {
  const client = await connectDevice(app, credentials);
  const id = credentials.username;
  client.on('message', (topic, payload) => {
    const match = new RegExp(`^devices/${id}/commands/([^/]+)$`).exec(topic);
    if (!match) return;
    const { params } = JSON.parse(payload.toString()) as { params: unknown };
    client.publish(`${topic}/result`, JSON.stringify({ status: 'succeeded', result: { echo: params } }), { qos: 1 });
  });
  await client.subscribeAsync(`devices/${id}/commands/+`, { qos: 1 });
  return client;
}

/**
 * Polls `condition` every 20 ms until it holds; fails with `what` after `timeoutMs`. For states outside the
 * process that announce nothing (a server's readiness, a broker's restart).
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `GET /readyz`: its status and text. */
export async function readyz(app: Pick<TestApp, 'url'>): Promise<{ status: number; text: string }> {
  const res = await fetch(`${app.url}/readyz`);
  return { status: res.status, text: await res.text() };
}

/** The `n` of each telemetry event a stream got, in order. */
export const valuesOf = (stream: StreamRecorder): number[] =>
  stream.of('telemetry').map((e) => (e.data['values'] as { n: number }).n);

/** 0, 1, … count − 1. */
export const sequence = (count: number): number[] => Array.from({ length: count }, (_, n) => n);

/**
 * A device publishing `{n}` with QoS 1 every `everyMs`, n counting from 0, whether or not the broker is there (the
 * client queues what it cannot send). `stop()` ends it and resolves once every publish was acknowledged.
 */
export class CountingPublisher {
  published = 0;
  private readonly acknowledged: Array<Promise<unknown>> = [];
  private readonly timer: NodeJS.Timeout;

  /**
   * `timed`: `{ts, values: {n}}` with ts = start + n ms instead, distinct, in publishing order and never ahead of the
   * clock, so that history is in publishing order whichever replica stored what.
   */
  constructor(client: MqttClient, topic: string, everyMs: number, timed = false) {
    const start = Date.now();
    const payload = (n: number) => JSON.stringify(timed ? { ts: start + n, values: { n } } : { n });
    this.timer = setInterval(() => {
      this.acknowledged.push(client.publishAsync(topic, payload(this.published++), { qos: 1 }));
    }, everyMs);
  }

  /** Stops publishing, at once (a test that fails must not leave it running). */
  halt(): void {
    clearInterval(this.timer);
  }

  /** Stops publishing; resolves once the broker acknowledged every message. */
  async stop(): Promise<void> {
    this.halt();
    await Promise.all(this.acknowledged);
  }
}
