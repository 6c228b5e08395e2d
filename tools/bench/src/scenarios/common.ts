import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ApiProcess } from '../lib/api-process';
import type { BenchOptions } from '../lib/args';
import { BenchDatabase } from '../lib/postgres';
import { summarizeProfile } from '../lib/profile';
import { RssSampler, type RssSummary, backgroundLoad } from '../lib/proc';
import type { ScenarioResult } from '../lib/report';
import { type Service, startMosquitto, startNginx } from '../lib/services';

/** The shared-subscription group of the replicas (MQTT_SHARE_GROUP), as deploy/ sets it. */
const SHARE_GROUP = 'iot-api';
/** How often the api's RSS is read during a scenario. */
const RSS_SAMPLE_MS = 250;

export interface ScenarioRun {
  /** The api, or with replicas the first one: REST calls (devices, login) go to it. */
  api: ApiProcess;
  /** Every api process: one, or each replica. */
  apis: ApiProcess[];
  /** Where SSE clients connect: the api, or nginx in front of the replicas. */
  streamUrl: string;
  /** Where devices publish: the api's embedded broker, or the Mosquitto in front of the replicas. */
  mqttUrl: string;
  /** The broker and the proxy of a replicated run (none otherwise), for the CPU split and memory. */
  services: Service[];
  /** Every api's Prometheus text, parsed, the same series summed over the replicas. */
  metrics(): Promise<Map<string, number>>;
  /** Marks the measured part of the run, for the CPU profile's window. */
  mark(which: 'start' | 'end'): void;
  /** The PostgreSQL server's processes (with --database-url), for the CPU split. */
  databasePids: (() => number[]) | undefined;
}

export function log(message: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[bench ${t}] ${message}\n`);
}

/**
 * Runs a scenario against a fresh api: own process, free ports, empty
 * DATA_DIR (and, with --database-url, an empty database of its own on that
 * server); stops it afterwards and, with --profile, summarises the api's
 * CPU profile over the measured window. With --replicas N and
 * --database-url: N api processes on that one database, a Mosquitto for
 * the devices and nginx (deploy/nginx/nginx.conf) in front of them.
 */
export async function withApi(
  name: string,
  options: BenchOptions,
  body: (run: ScenarioRun) => Promise<ScenarioResult>,
  extra: { inspector?: boolean; env?: Record<string, string> } = {},
): Promise<ScenarioResult> {
  const replicas = options.databaseUrl ? options.replicas : 1;
  // Runs on PostgreSQL keep their profiles and logs apart from the SQLite ones (--baseline runs both).
  const tag = options.databaseUrl ? `${name}-postgres${replicas > 1 ? `-${replicas}-replicas` : ''}` : name;
  const profileDir = options.profile ? join(dirname(options.out), 'profiles', tag) : undefined;
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  const logDir = join(dirname(options.out), 'logs');
  mkdirSync(logDir, { recursive: true });
  const database = options.databaseUrl ? await BenchDatabase.create(options.databaseUrl) : undefined;
  const services: Service[] = [];
  const apis: ApiProcess[] = [];
  const spawnedAt = performance.now();
  let window: { fromMs: number; toMs: number } | undefined;
  let result: ScenarioResult | undefined;
  // The api's RSS (every replica's, summed) from the moment it is ready to the end of the scenario.
  const rss = new RssSampler(() => apis.map((a) => a.pid), RSS_SAMPLE_MS);
  try {
    let shared: Record<string, string> = {};
    let admin: { username: string; password: string } | undefined;
    if (replicas > 1) {
      const broker = await startMosquitto();
      services.push(broker);
      log(`${name}: Mosquitto on ${broker.url} (pid ${broker.pids().join(', ')})`);
      // Every replica signs and checks the same tokens and has the same admin.
      shared = { MQTT_URL: broker.url, MQTT_SHARE_GROUP: SHARE_GROUP, JWT_SECRET: randomBytes(32).toString('hex') };
      admin = { username: 'bench', password: randomBytes(18).toString('base64url') };
    }
    for (let i = 1; i <= replicas; i++) {
      const logFile = join(logDir, replicas > 1 ? `${tag}-${i}.log` : `${tag}.log`);
      const api = new ApiProcess({
        main: options.api,
        profileDir: profileDir && replicas > 1 ? join(profileDir, `replica-${i}`) : profileDir,
        keepData: options.keepData,
        env: {
          ...extra.env,
          ...(database && { DATABASE_URL: database.url }),
          ...shared,
          ...(replicas > 1 && { MQTT_CLIENT_ID: `iot-api-bench-${i}` }),
          ...options.apiEnv,
        },
        nodeArgs: options.apiNodeArgs,
        inspector: extra.inspector,
        logFile,
        admin,
      });
      apis.push(api);
      const which = replicas > 1 ? ` ${i} of ${replicas}` : '';
      log(
        `${name}: starting the api${which} (DATA_DIR ${api.dataDir}${database ? `, database ${database.name}` : ''})`,
      );
      // One after the other: the first makes the schema and the admin, the next finds them.
      await api.start();
      log(`${name}: api${which} pid ${api.pid}, http ${api.httpPort}, mqtt ${api.mqttUrl}, output in ${logFile}`);
    }
    const api = apis[0];
    let streamUrl = api.baseUrl;
    if (replicas > 1) {
      const nginx = await startNginx(apis.map((a) => a.httpPort));
      services.push(nginx);
      streamUrl = nginx.url;
      log(`${name}: nginx on ${nginx.url} (pids ${nginx.pids().join(', ')}) in front of the ${replicas} replicas`);
    }
    rss.start();
    result = await body({
      api,
      apis,
      streamUrl,
      mqttUrl: api.mqttUrl,
      services,
      metrics: async () => {
        const sum = new Map<string, number>();
        for (const each of await Promise.all(apis.map((a) => a.metrics())))
          for (const [key, value] of each) sum.set(key, (sum.get(key) ?? 0) + value);
        return sum;
      },
      mark: (which) => {
        const at = performance.now() - spawnedAt;
        if (which === 'start') window = { fromMs: at, toMs: Infinity };
        else if (window) window.toMs = at;
      },
      databasePids: database && (() => database.pids()),
    });
    return result;
  } finally {
    const memory = rss.stop();
    if (result && memory) addMemory(result, memory, apis.length);
    // The proxy first (it holds the streams), then the apis, then the broker they are clients of.
    const nginx = services.find((s) => s.name === 'nginx');
    await nginx?.stop();
    const profiles = (await Promise.all(apis.map((a) => a.stop()))).flat();
    for (const service of services) if (service !== nginx) await service.stop();
    if (result && profiles.length > 0) {
      result.profile = summarizeProfile(profiles[0], window);
      result.notes.push(
        `api CPU profile${profiles.length > 1 ? 's (summary of the first)' : ''}: ${profiles.join(', ')}`,
      );
    }
    if (options.keepData)
      log(`${name}: kept ${apis.map((a) => a.dataDir).join(', ')}${database ? ` and database ${database.name}` : ''}`);
    else await database?.drop();
  }
}

/** The sampled RSS as rows of the table (start, peak, end) and, whole, in the JSON's details. */
function addMemory(result: ScenarioResult, memory: RssSummary, replicas: number): void {
  const what = replicas > 1 ? `RSS of the ${replicas} apis` : 'api RSS';
  result.results[`memory: ${what} at start (MiB)`] = memory.startMiB;
  result.results[`memory: ${what} peak (MiB)`] = memory.peakMiB;
  result.results[`memory: ${what} at end (MiB)`] = memory.endMiB;
  result.notes.push(
    `memory rows: VmRSS every ${RSS_SAMPLE_MS} ms (${memory.samples} samples), api ready to end of scenario`,
  );
  result.details = { ...result.details, rssMiB: memory.timeline };
}

/** Waits (up to `seconds`) for a 2 s stretch where other processes use under `cores` (0.25 by default). */
export async function waitForQuiet(seconds: number, cores = 0.25): Promise<void> {
  const deadline = performance.now() + seconds * 1000;
  for (;;) {
    const load = await backgroundLoad();
    if (load < cores) return;
    if (performance.now() > deadline) {
      log(`the machine is still busy (${load} cores): going ahead`);
      return;
    }
    log(`waiting for the machine to quieten (${load} cores busy)`);
  }
}
