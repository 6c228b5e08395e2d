import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { readMemory, type MemorySample } from './proc';

const HOST = '127.0.0.1';
/** The node options `npm start` runs the api with (tools/scripts/start.mjs; README, "Node options"). */
function apiNodeArgs(env: Record<string, string> | undefined): string[] {
  return [`--max-semi-space-size=${env?.['MEMORY_PROFILE'] === 'throughput' ? 64 : 8}`];
}
/** The C heap settings `npm start` and the Docker image give the api. */
const API_MALLOC_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export interface ApiOptions {
  /** Path of the built api (dist/apps/api/main.js), or of its source entry (apps/api/src/app/main.ts). */
  main: string;
  /** Write a CPU profile of the api into this directory. */
  profileDir?: string;
  keepData?: boolean;
  /** Extra environment for the api. */
  env?: Record<string, string>;
  /** Options for the api's node, before its script. */
  nodeArgs?: string[];
  /** Copy everything the api prints into this file. */
  logFile?: string;
  /** Open the api's inspector on a free loopback port, so that a GC can be forced from outside. */
  inspector?: boolean;
  /** The admin to create and log in as (replicas share one); default: `bench` with a random password. */
  admin?: { username: string; password: string };
}

export interface DeviceCredential {
  id: string;
  password: string;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * The api under test, in its own process: started from the build on free
 * ports with a fresh DATA_DIR, so its memory and CPU are its own and can be
 * read from /proc.
 */
export class ApiProcess {
  readonly dataDir: string;
  readonly adminUsername: string;
  readonly adminPassword: string;
  private child: ChildProcess | undefined;
  private output: string[] = [];
  private exited: Promise<number | null> | undefined;
  httpPort = 0;
  mqttPort = 0;
  token = '';
  /** ws:// URL of the api's inspector (with `inspector`). */
  inspectorUrl = '';

  constructor(private readonly options: ApiOptions) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'iot-bench-'));
    this.adminUsername = options.admin?.username ?? 'bench';
    this.adminPassword = options.admin?.password ?? randomBytes(18).toString('base64url');
  }

  /** The broker the devices publish to: the api's embedded one, or MQTT_URL's. */
  private get externalBroker(): string | undefined {
    return this.options.env?.['MQTT_URL'];
  }

  get pid(): number {
    if (!this.child?.pid) throw new Error('the api is not running');
    return this.child.pid;
  }

  get baseUrl(): string {
    return `http://${HOST}:${this.httpPort}`;
  }

  get mqttUrl(): string {
    return this.externalBroker ?? `mqtt://${HOST}:${this.mqttPort}`;
  }

  /** Starts the api and resolves once /readyz answers 200 and the admin is logged in. */
  async start(): Promise<void> {
    if (!existsSync(this.options.main)) {
      throw new Error(`${this.options.main} does not exist: build the api first (npx nx build api)`);
    }
    // The shipped options first: an --api-node-arg of the same name comes later and wins.
    const nodeArgs: string[] = [...apiNodeArgs(this.options.env), ...(this.options.nodeArgs ?? [])];
    // From source: compiled as it loads, as the api's own tests start it.
    const source = this.options.main.endsWith('.ts');
    if (source) nodeArgs.push('--require', '@swc-node/register');
    if (this.options.inspector) nodeArgs.push('--inspect=127.0.0.1:0');
    if (this.options.profileDir) {
      mkdirSync(this.options.profileDir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${this.options.profileDir}`);
    }
    const child = spawn(process.execPath, [...nodeArgs, this.options.main], {
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        ...API_MALLOC_ENV,
        PORT: '0',
        MQTT_PORT: '0',
        HOST,
        DATA_DIR: this.dataDir,
        ADMIN_USERNAME: this.adminUsername,
        ADMIN_PASSWORD: this.adminPassword,
        // 'log' is the level that prints the bound ports; nothing on the hot path logs at it.
        LOG_LEVEL: 'log',
        // Every stream of a scenario is the admin's: thousands, past the per-user cap that suits people.
        SSE_MAX_STREAMS_PER_USER: '1000000',
        SSE_MAX_STREAMS: '1000000',
        // apps/api/src/app/main.ts → apps/api/bench/tsconfig.json (its decorators need their metadata).
        ...(source && { SWC_NODE_PROJECT: join(dirname(this.options.main), '../../bench/tsconfig.json') }),
        ...this.options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const ports = new Promise<void>((resolve, reject) => {
      const log = this.options.logFile ? createWriteStream(this.options.logFile) : undefined;
      child.once('exit', () => log?.end());
      const onLine = (line: string) => {
        const text = line.replace(ANSI, '');
        log?.write(`${text}\n`);
        this.output.push(text);
        if (this.output.length > 200) this.output.shift();
        let match = /embedded MQTT broker listening on [^\s]+:(\d+)/.exec(text);
        if (match) this.mqttPort = Number(match[1]);
        match = /api listening on http:\/\/[^:]+:(\d+)/.exec(text);
        if (match) this.httpPort = Number(match[1]);
        match = /Debugger listening on (ws:\/\/\S+)/.exec(text);
        if (match) this.inspectorUrl = match[1];
        // With MQTT_URL the embedded broker is off: no MQTT port to wait for.
        if (this.httpPort && (this.mqttPort || this.externalBroker)) resolve();
      };
      for (const stream of [child.stdout, child.stderr]) {
        let rest = '';
        stream?.setEncoding('utf8');
        stream?.on('data', (chunk: string) => {
          const lines = (rest + chunk).split('\n');
          rest = lines.pop() ?? '';
          lines.forEach(onLine);
        });
      }
      child.once('exit', (code, signal) =>
        reject(new Error(`the api exited (${code ?? signal}) before listening:\n${this.recentOutput()}`)),
      );
    });
    await withTimeout(ports, READY_TIMEOUT_MS, () => `the api did not log its ports:\n${this.recentOutput()}`);
    await this.waitReady();
    this.token = await this.login();
  }

  recentOutput(lines = 30): string {
    return this.output.slice(-lines).join('\n');
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      try {
        const res = await fetch(`${this.baseUrl}/readyz`);
        await res.arrayBuffer();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`/readyz never answered 200:\n${this.recentOutput()}`);
      await sleep(100);
    }
  }

  private async login(): Promise<string> {
    const res = await fetch(`${this.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: this.adminUsername, password: this.adminPassword }),
    });
    const body = (await res.json()) as { accessToken?: string };
    if (!res.ok || !body.accessToken) throw new Error(`login failed: ${res.status} ${JSON.stringify(body)}`);
    return body.accessToken;
  }

  /** Registers `count` devices (bench-000 …, named by {@link benchDeviceName}) a few at a time; returns their MQTT credentials. */
  async createDevices(count: number, concurrency = 8): Promise<DeviceCredential[]> {
    const ids = Array.from({ length: count }, (_, i) => `bench-${String(i).padStart(3, '0')}`);
    const out: DeviceCredential[] = new Array(count);
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const i = next++;
        const res = await fetch(`${this.baseUrl}/api/v1/devices`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.token}` },
          body: JSON.stringify({ id: ids[i], name: benchDeviceName(i), type: 'bench' }),
        });
        const body = (await res.json()) as { credentials?: { username: string; password: string } };
        if (res.status !== 201 || !body.credentials) {
          throw new Error(`creating ${ids[i]} failed: ${res.status} ${JSON.stringify(body)}`);
        }
        out[i] = { id: body.credentials.username, password: body.credentials.password };
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    return out;
  }

  /** The api's Prometheus text, parsed into `name{labels}` → value. */
  async metrics(): Promise<Map<string, number>> {
    const res = await fetch(`${this.baseUrl}/metrics`);
    const text = await res.text();
    const out = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const space = line.lastIndexOf(' ');
      out.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
    return out;
  }

  /** Forces a full GC in the api through its inspector (HeapProfiler.collectGarbage). */
  async collectGarbage(): Promise<void> {
    if (!this.inspectorUrl) throw new Error('the api was started without its inspector');
    const socket = new WebSocket(this.inspectorUrl);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => socket.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
        socket.on('message', (data) => {
          if ((JSON.parse(String(data)) as { id?: number }).id === 1) resolve();
        });
        socket.once('error', reject);
        socket.once('close', () => reject(new Error('the inspector closed the connection')));
      });
    } finally {
      socket.close();
    }
  }

  memory(): MemorySample {
    return readMemory(this.pid);
  }

  /** SIGTERM (graceful: flushes the event log and writes a CPU profile), SIGKILL if it hangs. */
  async stop(): Promise<string[]> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    }
    this.child = undefined;
    if (!this.options.keepData) rmSync(this.dataDir, { recursive: true, force: true });
    const dir = this.options.profileDir;
    return dir && existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.endsWith('.cpuprofile'))
          .map((f) => join(dir, f))
      : [];
  }
}

/** The name createDevices gives its i-th device. */
export function benchDeviceName(i: number): string {
  return `Bench device ${i}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message())), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sum of every series of a metric (any labels), or 0. */
export function metricSum(metrics: Map<string, number>, name: string): number {
  let sum = 0;
  for (const [key, value] of metrics) {
    if (key === name || key.startsWith(`${name}{`)) sum += value;
  }
  return sum;
}

/** Quantile estimated from a Prometheus histogram's cumulative buckets (seconds → ms), upper bound of the bucket. */
export function histogramQuantileMs(
  metrics: Map<string, number>,
  name: string,
  q: number,
  before?: Map<string, number>,
): number | null {
  const buckets: Array<[number, number]> = [];
  for (const [key, value] of metrics) {
    const match = new RegExp(`^${name}_bucket\\{le="([^"]+)"`).exec(key);
    if (!match) continue;
    const le = match[1] === '+Inf' ? Infinity : Number(match[1]);
    buckets.push([le, value - (before?.get(key) ?? 0)]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  for (const [le, count] of buckets) if (count >= q * total) return le * 1000;
  return Infinity;
}
