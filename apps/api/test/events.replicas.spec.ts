import pg from 'pg';
import { telemetryEvent, type StoredEvent } from '../src/domain/events';
import { PgDatabase } from '../src/storage/postgres/pg-database';
import { postgresMissing, startPostgres, type TestPostgres } from './postgres';
import { device } from './storage-engines';

const DEVICES = ['a', 'b', 'c'];
const BATCHES = 60;
const MINUTE = 60_000;

const missing = postgresMissing();
if (missing !== undefined) console.warn(`skipped: ${missing}`);

(missing === undefined ? describe : describe.skip)('the event log appended by two replicas on PostgreSQL', () => {
  let cluster: TestPostgres;
  const stores: PgDatabase[] = [];

  beforeAll(async () => {
    cluster = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    for (const store of stores) await store.close();
    cluster?.stop();
  });

  it('numbers every batch in one contiguous run, keeps each replica’s order, and counts every value once', async () => {
    const url = cluster.createDatabase('replicas');
    for (let i = 0; i < 2; i++) stores.push(await PgDatabase.open(url, { poolSize: 4 }));
    for (const id of DEVICES) await stores[0].devices.create(device(id), 'h');

    // Both replicas write the same devices, keys and rollup buckets at once: rows both lock.
    const given = stores.map((store, r) =>
      Array.from({ length: BATCHES }, (_, b) =>
        store.events.append(
          DEVICES.flatMap((id, d) =>
            Array.from({ length: 1 + ((b + d) % 4) }, (_, i) => telemetryEvent(id, MINUTE + b * 10 + i, { n: r })),
          ),
        ),
      ),
    );
    const batches = await Promise.all(given.map((list) => Promise.all(list)));

    const all: StoredEvent[] = batches.flat(2);
    const seqs = all.map((e) => e.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    for (const list of batches) {
      for (const batch of list) expect(batch.map((e) => e.seq - batch[0].seq)).toEqual([...batch.keys()]);
      // A replica's batches hold rising seqs in the order it gave them.
      const firsts = list.map((batch) => batch[0].seq);
      expect(firsts).toEqual([...firsts].sort((x, y) => x - y));
    }
    const log = await stores[1].events.eventsAfter(0, {}, 10_000);
    expect(log.map((e) => e.seq)).toEqual(seqs);

    // The minute rollup counts each replica's values exactly once.
    for (const id of DEVICES) {
      const perMinute = await stores[0].telemetry.aggregate({
        deviceId: id,
        keys: ['n'],
        from: 0,
        to: 10 * MINUTE,
        bucketMs: MINUTE,
        agg: 'count',
      });
      const stored = all.filter((e) => e.deviceId === id).length;
      expect(perMinute['n'].reduce((sum, [, count]) => sum + Number(count), 0)).toBe(stored);
    }
  }, 60_000);

  it('commits a batch while another replica’s is in flight, and keeps the watermark before the one in flight', async () => {
    const url = cluster.createDatabase('in_flight');
    const store = await PgDatabase.open(url, { poolSize: 2 });
    stores.push(store);
    await store.devices.create(device('a'), 'h');
    await store.events.append([telemetryEvent('a', MINUTE, { n: 1 })]);
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    const inFlight = async (): Promise<number> => {
      // Another replica's batch of two, as its statement makes it: seqs taken, rows written, not committed.
      await other.query('BEGIN');
      const { rows } = await other.query<{ base: string }>('SELECT iot_reserve_seqs(2) AS base');
      const base = Number(rows[0].base);
      await other.query(
        `INSERT INTO events (seq, device_id, type, data, ts) VALUES ($1, 'a', 'telemetry', '{}', 0), ($2, 'a', 'telemetry', '{}', 0)`,
        [base + 1, base + 2],
      );
      return base;
    };
    const seqs = async (through?: number) =>
      (await store.events.eventsAfter(0, { through }, 100)).map((event) => event.seq);
    try {
      const base = await inFlight();
      expect(base).toBe(1);
      // This replica's batch does not wait for it, and takes the seqs after it.
      const [mine] = await store.events.append([telemetryEvent('a', MINUTE + 1, { n: 2 })]);
      expect(mine.seq).toBe(4);
      // 4 is readable, but the watermark stays before 2, so readers stop there.
      expect((await store.events.bounds()).last).toBe(1);
      expect(await seqs()).toEqual([1, 4]);
      expect(await seqs(1)).toEqual([1]);
      await other.query('COMMIT');
      expect((await store.events.bounds()).last).toBe(4);
      expect(await seqs(4)).toEqual([1, 2, 3, 4]);

      // One rolled back leaves its seqs unused for good; the watermark passes them.
      await inFlight();
      const [next] = await store.events.append([telemetryEvent('a', MINUTE + 2, { n: 3 })]);
      expect(next.seq).toBe(7);
      expect((await store.events.bounds()).last).toBe(4);
      await other.query('ROLLBACK');
      expect((await store.events.bounds()).last).toBe(7);
      expect(await seqs(7)).toEqual([1, 2, 3, 4, 7]);
    } finally {
      await other.end();
    }
  }, 60_000);

  it('keeps the watermark of each database to its own batches', async () => {
    const [first, second] = [cluster.createDatabase('watermark_a'), cluster.createDatabase('watermark_b')];
    const a = await PgDatabase.open(first, { poolSize: 1 });
    const b = await PgDatabase.open(second, { poolSize: 1 });
    stores.push(a, b);
    await b.devices.create(device('b'), 'h');
    await b.events.append([telemetryEvent('b', MINUTE, { n: 1 })]);
    const other = new pg.Client({ connectionString: first });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT iot_reserve_seqs(1)');
      expect((await a.events.bounds()).last).toBe(0);
      expect((await b.events.bounds()).last).toBe(1);
      await other.query('ROLLBACK');
      expect((await a.events.bounds()).last).toBe(1);
    } finally {
      await other.end();
    }
  }, 60_000);
});
