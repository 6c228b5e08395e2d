/**
 * Appends from several writers on one PostgreSQL (issue: scale-out): how many
 * events a second W replicas store together, each sending its batches one
 * after another as the api does, with the log's seqs taken as they are now
 * (a short gate, then batches commit side by side, readers stop at the
 * watermark) beside the append lock of migrations 0003–0011 (one lock held
 * by each batch until its commit), in the same invocation.
 *
 *   SWC_NODE_PROJECT=apps/api/bench/tsconfig.json node -r @swc-node/register apps/api/bench/append-writers.ts \
 *     --database-url postgres://USER@127.0.0.1:PORT/postgres [--writers 1,2] [--batch 200] [--seconds 10] [--rounds 2]
 *
 * The server must be on 127.0.0.1; each run makes a database there and drops it.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { type NewEvent, telemetryEvent } from '../src/domain/events';
import { PgDatabase } from '../src/storage/postgres/pg-database';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 || i + 1 >= process.argv.length ? fallback : process.argv[i + 1];
}

const URL_ = option('database-url', '');
const WRITERS = option('writers', '1,2').split(',').map(Number);
const BATCH = Number(option('batch', '200'));
const SECONDS = Number(option('seconds', '10'));
const ROUNDS = Number(option('rounds', '2'));
const DEVICES = 100;

/** The function of migration 0003, as it was until 0012: one advisory lock, held to the commit. */
const LOCKED = `CREATE OR REPLACE FUNCTION iot_reserve_seqs(n bigint) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
  BEGIN
    PERFORM pg_advisory_xact_lock(1768911921);
    RETURN setval(pg_get_serial_sequence('events', 'seq'),
      nextval(pg_get_serial_sequence('events', 'seq')) + GREATEST(n, 1) - 1) - n;
  END
$$`;

type Mode = 'gate' | 'lock';

interface Result {
  events: number;
  perSecond: number;
  batchMs: number;
}

async function run(mode: Mode, writers: number, n: number): Promise<Result> {
  const admin = new pg.Client({ connectionString: URL_ });
  await admin.connect();
  const name = `iot_writers_bench_${process.pid}_${n}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(URL_);
  url.pathname = `/${name}`;
  const stores: PgDatabase[] = [];
  try {
    for (let w = 0; w < writers; w++) stores.push(await PgDatabase.open(url.toString(), { poolSize: 4 }));
    if (mode === 'lock') {
      const c = new pg.Client({ connectionString: url.toString() });
      await c.connect();
      await c.query(LOCKED);
      await c.end();
    }
    for (let d = 0; d < DEVICES; d++) {
      const id = `d${d}`;
      const device = { id, name: id, type: null, labels: {}, online: false, lastSeen: null, createdAt: 1, updatedAt: 1 };
      await stores[0].devices.create(device, 'h');
    }
    let ts = Date.now();
    const batch = (): NewEvent[] =>
      Array.from({ length: BATCH }, () =>
        telemetryEvent(`d${Math.floor(Math.random() * DEVICES)}`, ts++, {
          t: Math.random() * 30,
          h: Math.random() * 100,
          ok: true,
        }),
      );
    let events = 0;
    let batches = 0;
    let batchTime = 0;
    const end = performance.now() + SECONDS * 1000;
    await Promise.all(
      stores.map(async (store) => {
        while (performance.now() < end) {
          const start = performance.now();
          const stored = await store.events.append(batch());
          batchTime += performance.now() - start;
          batches++;
          events += stored.length;
        }
      }),
    );
    const elapsed = (performance.now() - (end - SECONDS * 1000)) / 1000;
    return { events, perSecond: events / elapsed, batchMs: batchTime / batches };
  } finally {
    for (const store of stores) await store.close();
    await admin.query(`DROP DATABASE ${name}`);
    await admin.end();
  }
}

async function main(): Promise<void> {
  const host = URL_ === '' ? '' : new URL(URL_).hostname;
  if (host !== '127.0.0.1') throw new Error('--database-url must name a server on 127.0.0.1');
  console.log(`${BATCH} events a batch, ${SECONDS} s a run, ${DEVICES} devices, 3 keys`);
  console.log('| writers | seqs | events/s | ms a batch (each writer) |');
  console.log('| ------: | ---- | -------: | -----------------------: |');
  let n = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const writers of WRITERS) {
      for (const mode of ['gate', 'lock'] as const) {
        const r = await run(mode, writers, n++);
        const label = mode === 'gate' ? 'gate + watermark' : 'one lock to commit';
        console.log(`| ${writers} | ${label} | ${Math.round(r.perSecond).toLocaleString('en')} | ${r.batchMs.toFixed(1)} |`);
      }
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
