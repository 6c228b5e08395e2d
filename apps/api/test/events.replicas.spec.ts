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
});
