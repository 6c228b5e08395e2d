/**
 * Telemetry history benchmark (issue: aggregation, downsampling, retention).
 *
 *   node -r @swc-node/register apps/api/bench/history.ts [options]
 *
 * 1. Loads DAYS days of 1 Hz data for KEYS keys of one device into a fresh
 *    database (SQLite, or PostgreSQL with --database-url), through the same `append` path ingest uses (one
 *    transaction per batch, rollups included), and reports the load rate.
 * 2. Times the dashboard query: the whole range at points=500 over every key,
 *    through the same service the HTTP endpoint calls, and a few others.
 * 3. Runs the retention job (TELEMETRY_RETENTION = RETAIN days) while a fleet
 *    keeps ingesting through the real group-commit EventLog, and reports the
 *    ingest rate and commit latency with and without the job running.
 *
 * Options: --days 30 --keys 10 --retain 7 --devices 100 --window 10 (seconds
 * per ingest measurement) --rate 1000 (events/s of the paced fleet) --rounds 3
 * (alternations of ingest windows without and with the job) --db PATH (reuse or keep a database; default: a
 * temporary one, deleted at the end) --runs 20 (timed runs per query).
 *
 * --database-url postgres://USER@127.0.0.1:PORT/DB runs it all on PostgreSQL
 * (the PgDatabase adapters) instead: a server on this machine where the
 * script may create databases. It makes a fresh database there and drops it
 * at the end; with --db NAME it reuses or keeps that database instead.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import type { TelemetryQuery, TelemetryValues } from '@iot/protocol';
import type { AppConfig } from '../src/platform/config/config';
import { EventBus } from '../src/core/events/event-bus';
import { EventLog } from '../src/core/events/event-log.service';
import { LogFeed } from '../src/core/events/log-feed';
import { LocalCluster } from '../src/storage/local-cluster';
import { MetricsService } from '../src/platform/metrics/metrics.service';
import { SqliteDatabase } from '../src/storage/sqlite-database';
import { PgDatabase } from '../src/storage/postgres/pg-database';
import pg from 'pg';
import { type NewEvent, telemetryEvent } from '../src/domain/events';
import type { TelemetryRepository } from '../src/domain/telemetry';
import { TelemetryHistory } from '../src/core/telemetry/telemetry-history.service';
import { TelemetryRetention } from '../src/core/telemetry/telemetry-retention.service';

const DAY = 86_400_000;

function option(name: string, fallback: number): number;
function option(name: string, fallback: string | undefined): string | undefined;
function option(name: string, fallback: number | string | undefined): number | string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) return fallback;
  return typeof fallback === 'number' ? Number(process.argv[i + 1]) : process.argv[i + 1];
}

const DAYS = option('days', 30);
const KEYS = option('keys', 10);
const RETAIN_DAYS = option('retain', 7);
const DEVICES = option('devices', 100);
const WINDOW_S = option('window', 10);
const RUNS = option('runs', 20);
const RATE = option('rate', 1000);
const ROUNDS = option('rounds', 3);
const DB = option('db', undefined);
const DATABASE_URL = option('database-url', undefined);

type Store = SqliteDatabase | PgDatabase;

/**
 * Where the data goes: a SQLite file, or a database on the PostgreSQL server
 * of --database-url (loopback only: the script creates and drops databases).
 */
interface Target {
  label: string;
  /** Whether it starts empty (the 30 days are loaded). */
  fresh: boolean;
  open(): Promise<Store>;
  /** Deletes what was made for this run (not a database given with --db). */
  remove(): Promise<void>;
}

async function adminQuery(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000, query_timeout: 60_000 });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

async function target(): Promise<Target> {
  if (DATABASE_URL === undefined) {
    const path = DB ?? join(mkdtempSync(join(tmpdir(), 'iot-history-bench-')), 'iot.db');
    const dir = DB === undefined ? dirname(path) : undefined;
    return {
      label: `SQLite at ${path}`,
      fresh: !existsSync(path),
      open: () => SqliteDatabase.open(path),
      remove: async () => {
        if (dir) rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const server = new URL(DATABASE_URL);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(server.hostname))
    throw new Error('--database-url must point at 127.0.0.1 (the script creates and drops databases)');
  const name = DB ?? `iot_history_bench_${process.pid}`;
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error('--db needs a plain lower-case PostgreSQL database name');
  const exists = await adminQuery(DATABASE_URL, `SELECT 1 FROM pg_database WHERE datname = '${name}'`);
  const fresh = exists.rowCount === 0;
  if (fresh) await adminQuery(DATABASE_URL, `CREATE DATABASE ${name}`);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    label: `PostgreSQL, database ${name} on ${server.host}`,
    fresh,
    open: () => PgDatabase.open(url.toString()),
    remove: async () => {
      if (DB === undefined) await adminQuery(DATABASE_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

const keys = Array.from({ length: KEYS }, (_, k) => `k${k}`);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const tick = () => new Promise((resolve) => setImmediate(resolve));

function event(deviceId: string, ts: number, values: TelemetryValues): NewEvent {
  return telemetryEvent(deviceId, ts, values);
}

/** A smooth signal per key with noise, so aggregates are not trivial. */
function values(t: number): TelemetryValues {
  const out: TelemetryValues = {};
  for (let k = 0; k < KEYS; k++)
    out[keys[k]] = Math.round((20 + 5 * Math.sin(t / 3_600_000 + k) + Math.random()) * 100) / 100;
  return out;
}

async function load(database: Store, from: number, to: number): Promise<void> {
  await database.devices.create(
    {
      id: 'bench-1',
      name: 'bench-1',
      type: null,
      labels: {},
      online: false,
      lastSeen: null,
      createdAt: from,
      updatedAt: from,
    },
    'x',
  );
  const total = (to - from) / 1000;
  const start = performance.now();
  let batch: NewEvent[] = [];
  let done = 0;
  for (let t = from; t < to; t += 1000) {
    batch.push(event('bench-1', t, values(t)));
    if (batch.length === 1000) {
      await database.events.append(batch);
      done += batch.length;
      batch = [];
      if (done % 432_000 === 0) {
        const s = (performance.now() - start) / 1000;
        process.stdout.write(
          `\r  loaded ${fmt((100 * done) / total, 0)}% (${fmt(done / s)} events/s, ${fmt((done * KEYS) / s)} values/s)   `,
        );
      }
    }
  }
  if (batch.length > 0) await database.events.append(batch);
  const s = (performance.now() - start) / 1000;
  console.log(
    `\r  loaded ${fmt(total)} events × ${KEYS} keys = ${fmt(total * KEYS)} values in ${fmt(s, 1)} s: ${fmt(total / s)} events/s, ${fmt((total * KEYS) / s)} values/s`,
  );
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function timeQuery(
  history: TelemetryHistory,
  label: string,
  query: Partial<TelemetryQuery>,
  now: number,
): Promise<void> {
  const q = { limit: 10_000, order: 'asc', ...query } as TelemetryQuery;
  let start = performance.now();
  const first = await history.query('bench-1', q, now);
  const cold = performance.now() - start;
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    start = performance.now();
    const answer = await history.query('bench-1', q, now);
    JSON.stringify(answer); // what the HTTP layer does with it
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const counts = Object.values(first.series).map((s) => s.length);
  console.log(
    `  ${label.padEnd(44)} bucket ${String(first.bucketMs ?? 'raw').padStart(8)} ms, ${counts.length} keys × ${Math.max(...counts)} points: ` +
      `first ${fmt(cold, 1)} ms, median ${fmt(percentile(times, 50), 1)} ms, p95 ${fmt(percentile(times, 95), 1)} ms`,
  );
}

interface IngestStats {
  events: number;
  seconds: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  maxLatencyMs: number;
}

/**
 * A fleet of DEVICES devices (KEYS values an event) ingesting through the
 * real group-commit EventLog until `until` resolves: at full speed (the queue
 * topped up to 5,000 events whenever ingest yields) or at `rate` events/s.
 * Latency is from an event's arrival in the queue to its commit.
 */
async function ingest(database: Store, until: Promise<unknown>, rate?: number): Promise<IngestStats> {
  const bus = new EventBus();
  // The log's own commits, as one api process has them (no replicas to read).
  const log = new EventLog(database.events, new MetricsService(), new LogFeed(database.events, bus, new LocalCluster()));
  let events = 0;
  const latencies: number[] = [];
  bus.on('committed', (stored, receivedAt) => {
    const now = performance.now();
    events += stored.length;
    for (const at of receivedAt) latencies.push(now - at);
  });
  let stop = false;
  void until.then(() => (stop = true));
  const start = performance.now();
  let n = 0;
  const add = () => {
    log.append(event(`fleet-${n % DEVICES}`, Date.now(), values(n)), performance.now());
    n++;
  };
  while (!stop) {
    if (rate === undefined) {
      for (let i = 0; i < 5000; i++) add();
      await tick();
    } else {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      while (n < due) add();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  await log.settled();
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    events,
    seconds,
    p50LatencyMs: percentile(latencies, 50),
    p99LatencyMs: percentile(latencies, 99),
    maxLatencyMs: latencies[latencies.length - 1] ?? 0,
  };
}

function report(label: string, s: IngestStats): void {
  console.log(
    `  ${label.padEnd(36)} ${fmt(s.events / s.seconds).padStart(7)} events/s = ${fmt((s.events * KEYS) / s.seconds).padStart(9)} values/s; ` +
      `latency p50 ${fmt(s.p50LatencyMs, 1)} ms, p99 ${fmt(s.p99LatencyMs, 1)} ms, max ${fmt(s.maxLatencyMs, 1)} ms`,
  );
}

const seconds = (s: number) => new Promise((resolve) => setTimeout(resolve, s * 1000));

async function main(): Promise<void> {
  const store = await target();
  console.log(`History benchmark: ${DAYS} days of 1 Hz data, ${KEYS} keys, ${store.label}`);
  let database = await store.open();
  const now = Date.now();
  const to = now - (now % 1000);
  const from = to - DAYS * DAY;
  if (store.fresh) {
    console.log('\nLoad (append, one transaction per 1000 events, rollups maintained):');
    await load(database, from, to);
  } else {
    console.log(`\nReusing it (its data ends at load time; queries cover the ${DAYS} days before now)`);
  }

  const config = { telemetryRetentionMs: RETAIN_DAYS * DAY, rollupRetentionMs: 0 } as AppConfig;
  Logger.overrideLogger(['error', 'warn']);
  const queries = async (when: string, service: TelemetryHistory) => {
    console.log(`\nQueries ${when}, database reopened (${RUNS} timed runs each after the first; every key):`);
    await timeQuery(service, `${DAYS} days, points=500, avg`, { from, to, points: 500 }, now);
    await timeQuery(service, `${DAYS} days, points=500, last`, { from, to, points: 500, agg: 'last' }, now);
    await timeQuery(service, `${DAYS} days, points=2000, max`, { from, to, points: 2000, agg: 'max' }, now);
    await timeQuery(
      service,
      `${DAYS} days, bucket=30m (per-minute rows), max`,
      { from, to, bucket: 1_800_000, agg: 'max' },
      now,
    );
    await timeQuery(
      service,
      `${DAYS} days, ragged ends, points=500, avg`,
      { from: from + 12_345, to: to - 54_321, points: 500 },
      now,
    );
    await timeQuery(service, '1 day, points=500 (5 min buckets), avg', { from: to - DAY, to, points: 500 }, now);
    await timeQuery(
      service,
      '1 hour, points=500 (10 s buckets, raw), avg',
      { from: to - 3_600_000, to, points: 500 },
      now,
    );
  };
  // Reopened before each set of queries: SQLite's page cache starts empty (the OS file cache and
  // PostgreSQL's shared buffers do not).
  await database.close();
  database = await store.open();
  await queries(
    'before pruning',
    new TelemetryHistory({ telemetryRetentionMs: 0, rollupRetentionMs: 0 } as AppConfig, database.telemetry),
  );

  console.log(
    `\nIngest while the retention job prunes raw rows older than ${RETAIN_DAYS} days ` +
      `(a fleet of ${DEVICES} devices × ${KEYS} keys, through the group-commit EventLog, ${WINDOW_S} s each):`,
  );
  for (let d = 0; d < DEVICES; d++) {
    await database.devices.create(
      {
        id: `fleet-${d}`,
        name: 'f',
        type: null,
        labels: {},
        online: false,
        lastSeen: null,
        createdAt: now,
        updatedAt: now,
      },
      'x',
    );
  }
  // Every prune transaction is timed: it is the longest an ingest batch can wait behind the job.
  const pruneCalls: number[] = [];
  const telemetry: TelemetryRepository = database.telemetry;
  const prune = telemetry.prune.bind(telemetry);
  telemetry.prune = async (...args) => {
    const start = performance.now();
    const result = await prune(...args);
    pruneCalls.push(performance.now() - start);
    return result;
  };
  // Windows with and without the job alternate, so the database's growth and the machine's noise hit both alike.
  const runs: Record<string, IngestStats[]> = {};
  const record = (label: string, stats: IngestStats) => (runs[label] ??= []).push(stats);
  const pruneStart = performance.now();
  let pruned = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const rate of [RATE, undefined]) {
      const speed = rate === undefined ? 'at full speed' : `at ${fmt(rate)} events/s`;
      record(`${speed}, no pruning`, await ingest(database, seconds(WINDOW_S), rate));
      // A fresh job each time, stopped at the end of the window (as at shutdown); it goes on where the last one stopped.
      const job = new TelemetryRetention(config, database.telemetry);
      const pruning = job.runOnce(now);
      record(`${speed}, while pruning`, await ingest(database, seconds(WINDOW_S), rate));
      await job.onApplicationShutdown();
      pruned += (await pruning).raw;
    }
  }
  const beside = { calls: pruneCalls.length, rows: pruned };
  const median = (list: IngestStats[], f: (s: IngestStats) => number) =>
    list.map(f).sort((a, b) => a - b)[Math.floor(list.length / 2)];
  for (const [label, list] of Object.entries(runs)) {
    report(`${label} (median of ${list.length})`, {
      events: median(list, (x) => x.events / x.seconds),
      seconds: 1,
      p50LatencyMs: median(list, (x) => x.p50LatencyMs),
      p99LatencyMs: median(list, (x) => x.p99LatencyMs),
      maxLatencyMs: Math.max(...list.map((x) => x.maxLatencyMs)),
    });
  }
  // Then the rest, with nothing else running.
  const restStart = performance.now();
  const rest = (await new TelemetryRetention(config, database.telemetry).runOnce(now)).raw;
  const restSeconds = (performance.now() - restStart) / 1000;
  pruneCalls.sort((a, b) => a - b);
  console.log(
    `  pruned ${fmt(beside.rows)} raw messages in ${fmt(beside.calls)} transactions beside ingest, then ${fmt(rest)} alone in ` +
      `${fmt(restSeconds, 1)} s (${fmt(rest / restSeconds)} rows/s); ${fmt((performance.now() - pruneStart) / 1000, 1)} s in all. ` +
      `One prune transaction (up to 250 messages) took ${fmt(percentile(pruneCalls, 50), 1)} ms at the median, ` +
      `${fmt(percentile(pruneCalls, 99), 1)} ms p99, ${fmt(pruneCalls[pruneCalls.length - 1] ?? 0, 1)} ms at most.`,
  );

  await database.close();
  database = await store.open();
  await queries(
    `after pruning (raw kept ${RETAIN_DAYS} days; older buckets come from rollups)`,
    new TelemetryHistory(config, database.telemetry),
  );

  await database.close();
  await store.remove();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
