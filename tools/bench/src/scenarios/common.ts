import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ApiProcess } from '../lib/api-process';
import type { BenchOptions } from '../lib/args';
import { BenchDatabase } from '../lib/postgres';
import { summarizeProfile } from '../lib/profile';
import { backgroundLoad } from '../lib/proc';
import type { ScenarioResult } from '../lib/report';

export interface ScenarioRun {
  api: ApiProcess;
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
 * CPU profile over the measured window.
 */
export async function withApi(
  name: string,
  options: BenchOptions,
  body: (run: ScenarioRun) => Promise<ScenarioResult>,
  extra: { inspector?: boolean; env?: Record<string, string> } = {},
): Promise<ScenarioResult> {
  // Runs on PostgreSQL keep their profiles and logs apart from the SQLite ones (--baseline runs both).
  const tag = options.databaseUrl ? `${name}-postgres` : name;
  const profileDir = options.profile ? join(dirname(options.out), 'profiles', tag) : undefined;
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  const logFile = join(dirname(options.out), 'logs', `${tag}.log`);
  mkdirSync(dirname(logFile), { recursive: true });
  const database = options.databaseUrl ? await BenchDatabase.create(options.databaseUrl) : undefined;
  const api = new ApiProcess({
    main: options.api,
    profileDir,
    keepData: options.keepData,
    env: { ...extra.env, ...(database && { DATABASE_URL: database.url }), ...options.apiEnv },
    nodeArgs: options.apiNodeArgs,
    inspector: extra.inspector,
    logFile,
  });
  const spawnedAt = performance.now();
  let window: { fromMs: number; toMs: number } | undefined;
  let result: ScenarioResult | undefined;
  try {
    log(`${name}: starting the api (DATA_DIR ${api.dataDir}${database ? `, database ${database.name}` : ''})`);
    await api.start();
    log(`${name}: api pid ${api.pid}, http ${api.httpPort}, mqtt ${api.mqttPort}, output in ${logFile}`);
    result = await body({
      api,
      mark: (which) => {
        const at = performance.now() - spawnedAt;
        if (which === 'start') window = { fromMs: at, toMs: Infinity };
        else if (window) window.toMs = at;
      },
      databasePids: database && (() => database.pids()),
    });
    return result;
  } finally {
    const profiles = await api.stop();
    if (result && profiles.length > 0) {
      result.profile = summarizeProfile(profiles[0], window);
      result.notes.push(`api CPU profile: ${profiles[0]}`);
    }
    if (options.keepData) log(`${name}: kept ${api.dataDir}${database ? ` and database ${database.name}` : ''}`);
    else await database?.drop();
  }
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
