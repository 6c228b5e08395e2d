import { telemetryEvent } from '../src/domain/events';
import type { AggregateQuery, TelemetryRepository, TelemetryTier } from '../src/domain/telemetry';
import type { PgDatabase } from '../src/storage/postgres/pg-database';
import { postgresMissing } from './postgres';
import { type AnyStore, device, engines, freshStore } from './storage-engines';

const MIN = 60_000;
const HOUR = 3_600_000;

describe.each(engines())('TelemetryRepository on %s', (engine) => {
  const open = freshStore(engine);
  let store: AnyStore;
  let sut: TelemetryRepository;

  beforeEach(async () => {
    store = await open();
    sut = store.telemetry;
    await store.devices.create(device('d'), 'h');
  });

  async function ingest(...messages: Array<[number, Record<string, number | boolean | string>]>): Promise<void> {
    await store.events.append(messages.map(([ts, values]) => telemetryEvent('d', ts, values)));
  }

  it('reads raw history per key in either order, within a range, at most `limit` each', async () => {
    await ingest([1000, { t: 1, on: true }], [2000, { t: 2, mode: 'eco' }], [3000, { t: 3 }], [3000, { t: 4 }]);
    expect(await sut.history({ deviceId: 'd', limit: 10, order: 'asc' })).toEqual({
      mode: [[2000, 'eco']],
      on: [[1000, true]],
      t: [
        [1000, 1],
        [2000, 2],
        [3000, 3],
        [3000, 4],
      ],
    });
    expect(Object.keys(await sut.history({ deviceId: 'd', limit: 10, order: 'asc' }))).toEqual(['mode', 'on', 't']);
    expect(await sut.history({ deviceId: 'd', keys: ['t', 'nope'], limit: 2, order: 'desc' })).toEqual({
      t: [
        [3000, 4],
        [3000, 3],
      ],
      nope: [],
    });
    expect(await sut.history({ deviceId: 'd', keys: ['t'], from: 2000, to: 3000, limit: 10, order: 'asc' })).toEqual({
      t: [[2000, 2]],
    });
  });

  it('stops a raw read at the end of the message that reaches maxPoints', async () => {
    await ingest([1, { a: 1, b: 1 }], [2, { a: 2, b: 2 }], [3, { a: 3 }], [4, { b: 4 }]);
    expect(await sut.history({ deviceId: 'd', limit: 10, order: 'asc', maxPoints: 3 })).toEqual({
      a: [
        [1, 1],
        [2, 2],
      ],
      b: [
        [1, 1],
        [2, 2],
      ],
    });
    expect(await sut.history({ deviceId: 'd', keys: ['b'], limit: 10, order: 'desc', maxPoints: 2 })).toEqual({
      b: [
        [4, 4],
        [2, 2],
      ],
    });
  });

  it('reads raw history longer than one page of messages', async () => {
    const messages: Array<[number, Record<string, number>]> = [];
    for (let i = 0; i < 2_500; i++) messages.push([i, i % 2 === 0 ? { even: i } : { odd: i }]);
    await ingest(...messages);
    const series = await sut.history({ deviceId: 'd', keys: ['odd'], limit: 1_200, order: 'asc' });
    expect(series['odd'].length).toBe(1_200);
    expect(series['odd'][1_199]).toEqual([2_399, 2_399]);
  });

  describe('aggregates', () => {
    // Two hours of a value a minute (0..119), one boolean and a string now and then.
    const start = 10 * HOUR;
    beforeEach(async () => {
      const messages: Array<[number, Record<string, number | boolean | string>]> = [];
      for (let i = 0; i < 120; i++) {
        messages.push([start + i * MIN + 1_000, { v: i, ...(i % 30 === 0 && { on: i % 60 === 0, s: `s${i}` }) }]);
      }
      // Three batches, so rollups are updated, not only made.
      for (let i = 0; i < 120; i += 40) await ingest(...messages.slice(i, i + 40));
    });

    const query = (q: Partial<AggregateQuery>): AggregateQuery => ({
      deviceId: 'd',
      from: start,
      to: start + 2 * HOUR,
      bucketMs: HOUR,
      agg: 'avg',
      ...q,
    });

    it.each([
      [
        'avg',
        [
          [start, 29.5],
          [start + HOUR, 89.5],
        ],
      ],
      [
        'min',
        [
          [start, 0],
          [start + HOUR, 60],
        ],
      ],
      [
        'max',
        [
          [start, 59],
          [start + HOUR, 119],
        ],
      ],
      [
        'sum',
        [
          [start, 1770],
          [start + HOUR, 5370],
        ],
      ],
      [
        'count',
        [
          [start, 60],
          [start + HOUR, 60],
        ],
      ],
      [
        'last',
        [
          [start, 59],
          [start + HOUR, 119],
        ],
      ],
    ] as const)('%s by the hour reads the rollups exactly', async (agg, expected) => {
      expect(await sut.aggregate(query({ agg, keys: ['v'] }))).toEqual({ v: expected });
    });

    it('mixes tiers for ragged ends, counting exactly the points in the range', async () => {
      // From minute 5 and a half to minute 95 and a bit: raw, minutes, an hour's minutes, raw; values 6 to 94.
      const from = start + 5 * MIN + 30_000;
      const to = start + 95 * MIN + 500;
      const hourly = await sut.aggregate(query({ agg: 'sum', keys: ['v'], from, to }));
      expect(hourly).toEqual({
        v: [
          [start, 1770 - 15],
          [start + HOUR, ((60 + 94) * 35) / 2],
        ],
      });
      const hourlyCount = await sut.aggregate(query({ agg: 'count', keys: ['v'], from, to }));
      expect(hourlyCount).toEqual({
        v: [
          [start, 54],
          [start + HOUR, 35],
        ],
      });
      const hourlyLast = await sut.aggregate(query({ agg: 'last', keys: ['v'], from, to }));
      expect(hourlyLast).toEqual({
        v: [
          [start, 59],
          [start + HOUR, 94],
        ],
      });
    });

    it('counts booleans as 0/1 and strings only in count and last, every key when none is given', async () => {
      const all = await sut.aggregate(query({ agg: 'count', bucketMs: 2 * HOUR }));
      expect(all).toEqual({ on: [[start, 4]], s: [[start, 4]], v: [[start, 120]] });
      expect(await sut.aggregate(query({ agg: 'sum', keys: ['on', 's'], bucketMs: 2 * HOUR }))).toEqual({
        on: [[start, 2]],
        s: [],
      });
      expect(await sut.aggregate(query({ agg: 'last', keys: ['on', 's'], bucketMs: 2 * HOUR }))).toEqual({
        on: [[start, false]],
        s: [[start, 's90']],
      });
      // Buckets not made of whole minutes read raw rows.
      expect(
        await sut.aggregate(query({ agg: 'avg', keys: ['v'], from: start, to: start + 3 * MIN, bucketMs: 90_000 })),
      ).toEqual({
        v: [
          [start, 0.5],
          [start + 90_000, 2],
        ],
      });
    });
  });

  it('prunes each tier before a time, in calls of about `budget` rows, until nothing older is left', async () => {
    const now = Date.now();
    const old = now - 3 * 86_400_000;
    await ingest([old, { a: 1, b: 1 }], [old + HOUR, { a: 2 }], [now - 1000, { a: 3 }], [now, { a: 4 }]);
    const drain = async (tier: TelemetryTier, before: number, budget: number) => {
      let removed = 0;
      let start;
      for (let calls = 0; calls < 100; calls++) {
        const result = await sut.prune(tier, before, budget, start);
        removed += result.removed;
        start = result.next;
        if (!result.more) return removed;
      }
      throw new Error('prune never finished');
    };
    expect(await drain('raw', now - 500, 1)).toBe(3);
    expect(await sut.history({ deviceId: 'd', limit: 10, order: 'asc' })).toEqual({ a: [[now, 4]], b: [] });
    // Rollups still answer for the pruned raw rows.
    const day = {
      deviceId: 'd',
      keys: ['a'],
      from: old - (old % HOUR),
      to: old - (old % HOUR) + 2 * HOUR,
      bucketMs: HOUR,
    };
    expect(await sut.aggregate({ ...day, agg: 'count' })).toEqual({
      a: [
        [day.from, 1],
        [day.from + HOUR, 1],
      ],
    });
    expect(await drain('minute', now - 86_400_000, 1)).toBe(3);
    expect(await drain('hour', now - 86_400_000, 2)).toBe(3);
    expect(await sut.aggregate({ ...day, agg: 'count' })).toEqual({ a: [] });
    expect((await sut.latest(['d'])).get('d')?.['a']).toEqual({ ts: now, value: 4 });
  });
});

(postgresMissing() ? describe.skip : describe)('TelemetryRepository on PostgreSQL: partitions', () => {
  const open = freshStore('PostgreSQL');

  it('drops a whole day of raw history at once, past the budget, and only what is older', async () => {
    const store = (await open()) as PgDatabase;
    await store.devices.create(device('d'), 'h');
    const now = Date.now();
    const old = now - 3 * 86_400_000;
    await store.events.append([
      telemetryEvent('d', old, { a: 1 }),
      telemetryEvent('d', old + 1, { a: 2 }),
      telemetryEvent('d', old + 2, { a: 3 }),
      telemetryEvent('d', now, { a: 4 }),
    ]);
    expect(await store.telemetry.prune('raw', now - 86_400_000, 1)).toEqual({ removed: 3, more: true });
    expect(await store.telemetry.prune('raw', now - 86_400_000, 1)).toEqual({ removed: 0, more: false });
    expect(await store.telemetry.history({ deviceId: 'd', limit: 10, order: 'asc' })).toEqual({ a: [[now, 4]] });
    // A message of that day arriving late is stored again.
    await store.events.append([telemetryEvent('d', old, { a: 5 })]);
    expect((await store.telemetry.history({ deviceId: 'd', limit: 10, order: 'asc' }))['a'].length).toBe(2);
  });
});

(postgresMissing() ? describe.skip : describe)('TelemetryRepository: PostgreSQL answers as SQLite', () => {
  const openSqlite = freshStore('SQLite');
  const openPostgres = freshStore('PostgreSQL');

  /** A deterministic generator, so a failure can be replayed. */
  function random(seed: number): () => number {
    let state = seed;
    return () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
  }

  /** Numbers equal up to the rounding of float sums added in another order. */
  function close(a: unknown, b: unknown): boolean {
    if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));
    if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => close(x, b[i]));
    if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
      const keys = Object.keys(a);
      return close(keys, Object.keys(b)) && keys.every((k) => close((a as never)[k], (b as never)[k]));
    }
    return a === b;
  }

  it('gives the same raw histories and aggregates for the same data', async () => {
    const stores = [await openSqlite(), await openPostgres()];
    const next = random(7);
    const start = 1_700_000_000_000 - (1_700_000_000_000 % 3_600_000);
    const span = 3 * HOUR;
    const messages = [];
    for (let i = 0; i < 3_000; i++) {
      const ts = start + Math.floor(next() * span);
      const values: Record<string, number | boolean | string> = {};
      if (next() < 0.8) values['t'] = Math.round(next() * 1000) / 10 - 20;
      if (next() < 0.3) values['on'] = next() < 0.5;
      if (next() < 0.2) values['s'] = `v${Math.floor(next() * 5)}`;
      if (next() < 0.5 || Object.keys(values).length === 0) values['n'] = Math.floor(next() * 100);
      messages.push(telemetryEvent('d', ts, values));
    }
    for (const store of stores) {
      await store.devices.create(device('d'), 'h');
      for (let i = 0; i < messages.length; i += 250) await store.events.append(messages.slice(i, i + 250));
    }
    const [sqlite, postgres] = stores.map((s) => s.telemetry);
    const aggs = ['avg', 'min', 'max', 'sum', 'count', 'last'] as const;
    const buckets = [1_000, 90_000, MIN, 5 * MIN, HOUR, 2 * HOUR];
    for (let q = 0; q < 60; q++) {
      const from = start - HOUR + Math.floor(next() * (span + HOUR));
      const to = from + Math.floor(next() * span) + 1;
      const keys = next() < 0.3 ? undefined : ['t', 'on', 's', 'n', 'none'].filter(() => next() < 0.6);
      const history = {
        deviceId: 'd',
        keys,
        ...(next() < 0.7 && { from, to }),
        limit: 1 + Math.floor(next() * 400),
        order: next() < 0.5 ? ('asc' as const) : ('desc' as const),
        ...(next() < 0.3 && { maxPoints: 1 + Math.floor(next() * 300) }),
      };
      const [a, b] = [await sqlite.history(history), await postgres.history(history)];
      if (!close(a, b)) throw new Error(`history ${JSON.stringify(history)} differs`);
      const bucketMs = buckets[Math.floor(next() * buckets.length)];
      const aggregate = {
        deviceId: 'd',
        keys,
        from,
        to: Math.min(to, from + bucketMs * 2_000),
        bucketMs,
        agg: aggs[Math.floor(next() * aggs.length)],
      };
      const [x, y] = [await sqlite.aggregate(aggregate), await postgres.aggregate(aggregate)];
      if (!close(x, y)) throw new Error(`aggregate ${JSON.stringify(aggregate)} differs`);
    }
    expect(await postgres.latest(['d'])).toEqual(await sqlite.latest(['d']));
  }, 60_000);
});
