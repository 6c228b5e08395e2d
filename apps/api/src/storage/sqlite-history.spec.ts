import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { TELEMETRY_AGGREGATIONS, type TelemetryAggregation, type TelemetryValue } from '@iot/protocol';
import { migrationProvider } from './migrations';
import { aggregateSql, HOUR_MS, MINUTE_MS, sourceTier, splitRange } from './sqlite-history';
import { SqliteDatabase } from './sqlite-database';
import { type NewEvent, telemetryEvent, valuesJsonOf } from '../domain/events';
import type { TelemetryTier } from '../domain/telemetry';

/** 2025-11-27T09:40:00Z */
const T0 = 1764236400000;
const DAY_MS = 86_400_000;

type Value = number | boolean | string;
interface Point {
  ts: number;
  seq: number;
  value: Value;
}

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function telemetry(deviceId: string, ts: number, values: Record<string, Value>): NewEvent {
  return telemetryEvent(deviceId, ts, values);
}

/** The answer computed here from the points themselves: what SQL must match. */
function reference(
  points: Point[],
  from: number,
  to: number,
  bucketMs: number,
  agg: TelemetryAggregation,
): Array<[number, TelemetryValue]> {
  const buckets = new Map<number, Point[]>();
  for (const p of points) {
    if (p.ts < from || p.ts >= to) continue;
    const bucket = p.ts - (p.ts % bucketMs);
    buckets.set(bucket, [...(buckets.get(bucket) ?? []), p]);
  }
  const out: Array<[number, TelemetryValue]> = [];
  for (const bucket of [...buckets.keys()].sort((a, b) => a - b)) {
    const inBucket = buckets.get(bucket)!;
    const nums = inBucket.filter((p) => typeof p.value !== 'string').map((p) => Number(p.value));
    const sum = nums.reduce((a, b) => a + b, 0);
    switch (agg) {
      case 'count':
        out.push([bucket, inBucket.length]);
        break;
      case 'last':
        out.push([bucket, inBucket.reduce((a, b) => (b.ts > a.ts || (b.ts === a.ts && b.seq > a.seq) ? b : a)).value]);
        break;
      case 'avg':
        if (nums.length > 0) out.push([bucket, sum / nums.length]);
        break;
      case 'sum':
        if (nums.length > 0) out.push([bucket, sum]);
        break;
      case 'min':
        if (nums.length > 0) out.push([bucket, Math.min(...nums)]);
        break;
      case 'max':
        if (nums.length > 0) out.push([bucket, Math.max(...nums)]);
        break;
    }
  }
  return out;
}

/**
 * About 3 hours of points on four keys with exactly representable numbers
 * (halves), so sums are exact whatever the order of addition; points on and
 * next to every minute and hour edge; ties at one millisecond; stored in
 * batches out of time order, so rollups merge late data.
 */
async function load(sut: SqliteDatabase, deviceId = 'a', seed = 1): Promise<Record<string, Point[]>> {
  const random = prng(seed);
  const times: number[] = [];
  for (let i = 0; i < 1500; i++) times.push(T0 - 20 * MINUTE_MS + Math.floor(random() * 3.5 * HOUR_MS));
  for (let edge = T0 - (T0 % HOUR_MS) - HOUR_MS; edge < T0 + 4 * HOUR_MS; edge += 10 * MINUTE_MS)
    times.push(edge - 1, edge, edge + 1);
  for (let i = 0; i < 20; i++) times.push(T0 + 5 * MINUTE_MS); // ties: the same millisecond, told apart by arrival
  const events = times.map((ts) => {
    const r = random();
    const values: Record<string, Value> = {
      temp: Math.round((random() * 60 - 20) * 2) / 2 || 0, // never -0: JSON and SQL both make it 0
      on: random() < 0.5,
      mode: r < 0.3 ? 'eco' : r < 0.6 ? 'boost' : 'off',
    };
    if (random() < 0.7) values['mixed'] = r < 0.4 ? Math.round(random() * 100) : r < 0.7 ? random() < 0.5 : 'text';
    return telemetry(deviceId, ts, values);
  });
  // Out of time order, in batches of various sizes.
  for (let i = events.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [events[i], events[j]] = [events[j], events[i]];
  }
  const points: Record<string, Point[]> = {};
  for (let i = 0; i < events.length; ) {
    const batch = events.slice(i, (i += 1 + Math.floor(random() * 200)));
    const stored = await sut.events.append(batch);
    batch.forEach((event, k) => {
      for (const [key, value] of Object.entries(JSON.parse(valuesJsonOf(event.data)!) as Record<string, Value>))
        (points[key] ??= []).push({ ts: event.ts, seq: stored[k].seq, value });
    });
  }
  return points;
}

function sqliteOf(database: SqliteDatabase): BetterSqlite3.Database {
  return (database as unknown as { sqlite: BetterSqlite3.Database }).sqlite;
}

async function newStorage(path = ':memory:'): Promise<SqliteDatabase> {
  const database = await SqliteDatabase.open(path);
  for (const id of ['a', 'b']) {
    await database.devices.create(
      { id, name: id, type: null, labels: {}, online: false, lastSeen: null, createdAt: 0, updatedAt: 0 },
      'hash',
    );
  }
  return database;
}

describe('splitRange and sourceTier', () => {
  it.each<[number, TelemetryTier]>([
    [1, 'raw'],
    [1000, 'raw'],
    [90_000, 'raw'],
    [60_000, 'minute'],
    [5 * MINUTE_MS, 'minute'],
    [90 * MINUTE_MS, 'minute'],
    [HOUR_MS, 'hour'],
    [3 * HOUR_MS, 'hour'],
    [DAY_MS, 'hour'],
  ])('bucket %p ms reads %p', (bucketMs, tier) => expect(sourceTier(bucketMs)).toBe(tier));

  it('reads whole hours from hours, whole minutes from minutes and the ragged ends from raw rows', () => {
    const h = Date.UTC(2025, 10, 27, 9);
    expect(splitRange(h - 90_500, h + 2 * HOUR_MS + 61_000, 'hour')).toEqual([
      { tier: 'raw', from: h - 90_500, to: h - 60_000 },
      { tier: 'minute', from: h - 60_000, to: h },
      { tier: 'hour', from: h, to: h + 2 * HOUR_MS },
      { tier: 'minute', from: h + 2 * HOUR_MS, to: h + 2 * HOUR_MS + 60_000 },
      { tier: 'raw', from: h + 2 * HOUR_MS + 60_000, to: h + 2 * HOUR_MS + 61_000 },
    ]);
    expect(splitRange(h, h + DAY_MS, 'hour')).toEqual([{ tier: 'hour', from: h, to: h + DAY_MS }]);
    expect(splitRange(h + 1, h + 59_000, 'hour')).toEqual([{ tier: 'raw', from: h + 1, to: h + 59_000 }]);
    expect(splitRange(h + 1, h + 30 * MINUTE_MS, 'hour')).toEqual([
      { tier: 'raw', from: h + 1, to: h + MINUTE_MS },
      { tier: 'minute', from: h + MINUTE_MS, to: h + 30 * MINUTE_MS },
    ]);
    expect(splitRange(h - 1, h + HOUR_MS + 1, 'minute')).toEqual([
      { tier: 'raw', from: h - 1, to: h },
      { tier: 'minute', from: h, to: h + HOUR_MS },
      { tier: 'raw', from: h + HOUR_MS, to: h + HOUR_MS + 1 },
    ]);
    expect(splitRange(h - 1, h + HOUR_MS + 1, 'raw')).toEqual([{ tier: 'raw', from: h - 1, to: h + HOUR_MS + 1 }]);
  });
});

describe('SqliteDatabase aggregates', () => {
  let sut: SqliteDatabase;
  let points: Record<string, Point[]>;

  beforeAll(async () => {
    sut = await newStorage();
    points = await load(sut);
    await load(sut, 'b', 2); // another device in the same tables
  });

  afterAll(() => sut.close());

  const hour = T0 - (T0 % HOUR_MS);
  const ranges: Array<[string, number, number]> = [
    ['whole days', hour - (hour % DAY_MS), hour - (hour % DAY_MS) + DAY_MS],
    ['ragged ends', T0 - 17 * MINUTE_MS - 12_345, T0 + 2 * HOUR_MS + 13 * MINUTE_MS + 7_001],
    ['ends on bucket edges', hour, hour + 2 * HOUR_MS],
    ['within one minute', T0 + 5 * MINUTE_MS - 10, T0 + 5 * MINUTE_MS + 30_000],
    ['within one hour', hour + HOUR_MS + 1, hour + 2 * HOUR_MS - 1],
  ];
  const buckets = [1000, 7000, 60_000, 90_000, 5 * MINUTE_MS, 7 * MINUTE_MS, HOUR_MS, 2 * HOUR_MS, DAY_MS];

  describe.each(ranges)('over %s', (_name, from, to) => {
    it.each(buckets)(
      'matches values computed from the points, for every aggregation, with a %p ms bucket',
      async (bucketMs) => {
        for (const agg of TELEMETRY_AGGREGATIONS) {
          const series = await sut.telemetry.aggregate({ deviceId: 'a', from, to, bucketMs, agg });
          expect(Object.keys(series).sort()).toEqual(['mixed', 'mode', 'on', 'temp']);
          for (const key of Object.keys(series)) {
            expect([agg, key, series[key]]).toEqual([agg, key, reference(points[key], from, to, bucketMs, agg)]);
          }
        }
      },
    );
  });

  it('puts a point on a bucket edge in the bucket that starts there', async () => {
    const edge = hour + HOUR_MS;
    const series = await sut.telemetry.aggregate({
      deviceId: 'a',
      keys: ['temp'],
      from: edge - 1,
      to: edge + 1,
      bucketMs: HOUR_MS,
      agg: 'count',
    });
    const at = (ts: number) => points['temp'].filter((p) => p.ts === ts).length;
    expect(series['temp']).toEqual([
      [edge - HOUR_MS, at(edge - 1)],
      [edge, at(edge)],
    ]);
  });

  it('picks the newest of values stored at the same millisecond by arrival', async () => {
    const ts = T0 + 5 * MINUTE_MS;
    const tied = points['mode'].filter((p) => p.ts === ts).sort((x, y) => x.seq - y.seq);
    expect(tied.length).toBeGreaterThanOrEqual(20);
    for (const bucketMs of [1, MINUTE_MS, HOUR_MS]) {
      const series = await sut.telemetry.aggregate({
        deviceId: 'a',
        keys: ['mode'],
        from: ts,
        to: ts + 1,
        bucketMs,
        agg: 'last',
      });
      expect(series['mode']).toEqual([[ts - (ts % bucketMs), tied[tied.length - 1].value]]);
    }
  });

  it('counts strings but leaves them out of numeric aggregates, and reads booleans as 0 and 1', async () => {
    const range = { deviceId: 'a', from: hour, to: hour + HOUR_MS, bucketMs: HOUR_MS };
    expect((await sut.telemetry.aggregate({ ...range, keys: ['mode'], agg: 'avg' }))['mode']).toEqual([]);
    expect((await sut.telemetry.aggregate({ ...range, keys: ['mode'], agg: 'count' }))['mode']).toEqual([
      [hour, points['mode'].filter((p) => p.ts >= hour && p.ts < hour + HOUR_MS).length],
    ]);
    const on = points['on'].filter((p) => p.ts >= hour && p.ts < hour + HOUR_MS);
    expect((await sut.telemetry.aggregate({ ...range, keys: ['on'], agg: 'sum' }))['on']).toEqual([
      [hour, on.filter((p) => p.value).length],
    ]);
    expect((await sut.telemetry.aggregate({ ...range, keys: ['on'], agg: 'max' }))['on']).toEqual([[hour, 1]]);
  });

  it('answers an unknown key or an empty range with no points', async () => {
    expect(
      await sut.telemetry.aggregate({
        deviceId: 'a',
        keys: ['nothing'],
        from: 0,
        to: T0,
        bucketMs: DAY_MS,
        agg: 'avg',
      }),
    ).toEqual({ nothing: [] });
    expect(
      await sut.telemetry.aggregate({ deviceId: 'nobody', from: 0, to: T0, bucketMs: DAY_MS, agg: 'avg' }),
    ).toEqual({});
  });

  it('keeps rollups equal to rollups computed again from the raw rows', () => {
    const db = sqliteOf(sut);
    for (const [table, ms] of [
      ['telemetry_1m', MINUTE_MS],
      ['telemetry_1h', HOUR_MS],
    ] as const) {
      const kept = db
        .prepare(
          `SELECT device_id, key, bucket, count, num_count, num_sum, num_min, num_max, last_ts, last_seq, last_kind, last_num, last_str FROM ${table} ORDER BY device_id, key, bucket`,
        )
        .all();
      const recomputed = db
        .prepare(
          `SELECT device_id, key, bucket, count, num_count, num_sum, num_min, num_max, ts AS last_ts, seq AS last_seq, kind AS last_kind, num AS last_num, str AS last_str
           FROM (SELECT device_id, key, ts - ts % ${ms} AS bucket, ts, seq, kind, num, str,
             COUNT(*) OVER w AS count, COUNT(num) OVER w AS num_count, COALESCE(SUM(num) OVER w, 0) AS num_sum, MIN(num) OVER w AS num_min, MAX(num) OVER w AS num_max,
             ROW_NUMBER() OVER (PARTITION BY device_id, key, ts - ts % ${ms} ORDER BY ts DESC, seq DESC) AS rn
             FROM telemetry WINDOW w AS (PARTITION BY device_id, key, ts - ts % ${ms}))
           WHERE rn = 1 ORDER BY device_id, key, bucket`,
        )
        .all();
      expect(kept.length).toBeGreaterThan(ms === MINUTE_MS ? 1000 : 20);
      expect(kept).toEqual(recomputed);
    }
  });

  it('deletes a device with its rollups', async () => {
    const other = await newStorage();
    await other.events.append([telemetry('a', T0, { t: 1 }), telemetry('b', T0, { t: 2 })]);
    await other.devices.delete('a');
    const count = (table: string) =>
      sqliteOf(other).prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).get()!.n;
    expect([count('telemetry_1m'), count('telemetry_1h')]).toEqual([1, 1]);
    expect(
      await other.telemetry.aggregate({ deviceId: 'b', from: 0, to: T0 + 1, bucketMs: DAY_MS, agg: 'sum' }),
    ).toEqual({
      t: [[T0 - (T0 % DAY_MS), 2]],
    });
    await other.close();
  });
});

describe('SqliteDatabase aggregates of arbitrary floats', () => {
  it('match values computed from the points, up to the rounding of sums added in another order', async () => {
    const sut = await newStorage();
    const random = prng(7);
    const points: Point[] = [];
    for (let b = 0; b < 20; b++) {
      const batch = Array.from({ length: 100 }, () =>
        telemetry('a', T0 + Math.floor(random() * 6 * HOUR_MS), { x: random() * 1000 - 500 }),
      );
      const stored = await sut.events.append(batch);
      batch.forEach((e, i) =>
        points.push({ ts: e.ts, seq: stored[i].seq, value: JSON.parse(valuesJsonOf(e.data)!).x }),
      );
    }
    for (const bucketMs of [MINUTE_MS, 10 * MINUTE_MS, HOUR_MS, 3 * HOUR_MS]) {
      for (const agg of TELEMETRY_AGGREGATIONS) {
        const got = (
          await sut.telemetry.aggregate({ deviceId: 'a', from: T0 - 1234, to: T0 + 6 * HOUR_MS, bucketMs, agg })
        )['x'];
        const want = reference(points, T0 - 1234, T0 + 6 * HOUR_MS, bucketMs, agg);
        expect(got.map(([ts]) => ts)).toEqual(want.map(([ts]) => ts));
        got.forEach(([, value], i) => {
          if (agg === 'avg' || agg === 'sum') expect(value as number).toBeCloseTo(want[i][1] as number, 8);
          else expect(value).toBe(want[i][1]);
        });
      }
    }
    await sut.close();
  });
});

// In a file, retention's deletes run on the writer thread, between ingest batches.
describe.each([
  ['in memory', false],
  ['in a file', true],
])('SqliteDatabase telemetry retention, %s', (_where, inFile) => {
  let sut: SqliteDatabase;
  let dir: string | undefined;

  beforeEach(async () => {
    dir = inFile ? mkdtempSync(join(tmpdir(), 'iot-retention-')) : undefined;
    sut = await newStorage(dir ? join(dir, 'iot.db') : undefined);
  });

  afterEach(async () => {
    await sut.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const count = (table: string, where = '1') =>
    sqliteOf(sut).prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`).get()!.n;

  async function pruneAll(tier: TelemetryTier, before: number, budget: number): Promise<number[]> {
    const removed: number[] = [];
    let start;
    for (;;) {
      const result = await sut.telemetry.prune(tier, before, budget, start);
      removed.push(result.removed);
      start = result.next;
      if (!result.more) return removed;
    }
  }

  it('removes only raw messages older than the cut, across every device, in batches of the budget', async () => {
    const events: NewEvent[] = [];
    for (let i = 0; i < 40; i++) {
      events.push(
        telemetry('a', T0 - 20 * 1000 + i * 1000, { t: i, u: i }),
        telemetry('b', T0 - 10 * 1000 + i * 1000, { t: i }),
      );
    }
    await sut.events.append(events);
    const older = count('telemetry_messages', `ts < ${T0}`);
    expect(older).toBe(20 + 10);
    expect(count('telemetry', `ts < ${T0}`)).toBe(20 * 2 + 10);
    const removed = await pruneAll('raw', T0, 7);
    expect(removed.reduce((a, b) => a + b, 0)).toBe(older);
    expect(Math.max(...removed)).toBeLessThanOrEqual(7);
    expect(count('telemetry', `ts < ${T0}`)).toBe(0);
    expect(count('telemetry_messages')).toBe(80 - older);
    expect(count('telemetry')).toBe(120 - 50);
    // The rollups are not raw rows: they stay.
    expect(count('telemetry_1m', `bucket < ${T0}`)).toBeGreaterThan(0);
    expect(await pruneAll('raw', T0, 7)).toEqual([0]);
  });

  it('makes progress when more rows than the budget share one millisecond', async () => {
    await sut.events.append(Array.from({ length: 10 }, (_, i) => telemetry('a', T0 - 1000, { t: i })));
    await sut.events.append([telemetry('a', T0 - 500, { t: 1 }), telemetry('a', T0, { t: 2 })]);
    expect((await pruneAll('raw', T0, 3)).reduce((a, b) => a + b, 0)).toBe(11);
    expect((await sut.telemetry.history({ deviceId: 'a', limit: 10, order: 'asc' }))['t']).toEqual([[T0, 2]]);
  });

  it('removes only rollups older than the cut, in batches', async () => {
    const hour = T0 - (T0 % HOUR_MS);
    await sut.events.append(
      Array.from({ length: 6 * 60 }, (_, i) => telemetry('a', hour - 3 * HOUR_MS + i * MINUTE_MS, { t: i, u: 1 })),
    );
    const minutes = count('telemetry_1m', `bucket < ${hour}`);
    expect(minutes).toBe(3 * 60 * 2);
    expect((await pruneAll('minute', hour, 50)).reduce((a, b) => a + b, 0)).toBe(minutes);
    expect(count('telemetry_1m', `bucket < ${hour}`)).toBe(0);
    expect(count('telemetry_1m')).toBe(3 * 60 * 2);
    expect((await pruneAll('hour', hour - HOUR_MS, 1)).reduce((a, b) => a + b, 0)).toBe(2 * 2);
    expect(count('telemetry_1h')).toBe(4 * 2);
  });

  it('still answers from rollups where raw rows are gone, with the same values', async () => {
    const hour = T0 - (T0 % HOUR_MS);
    const points = await load(sut);
    const query = { deviceId: 'a', keys: ['temp'], from: hour - 2 * HOUR_MS, to: hour + 2 * HOUR_MS };
    const before = {
      minutes: await sut.telemetry.aggregate({ ...query, bucketMs: 5 * MINUTE_MS, agg: 'avg' }),
      hours: await sut.telemetry.aggregate({ ...query, bucketMs: HOUR_MS, agg: 'last' }),
    };
    expect(before.minutes['temp']).toEqual(reference(points['temp'], query.from, query.to, 5 * MINUTE_MS, 'avg'));
    await pruneAll('raw', hour + 2 * HOUR_MS, 100);
    expect(count('telemetry', `ts < ${hour + 2 * HOUR_MS}`)).toBe(0);
    expect(await sut.telemetry.aggregate({ ...query, bucketMs: 5 * MINUTE_MS, agg: 'avg' })).toEqual(before.minutes);
    expect(await sut.telemetry.aggregate({ ...query, bucketMs: HOUR_MS, agg: 'last' })).toEqual(before.hours);
    // Buckets finer than a minute need raw rows.
    expect((await sut.telemetry.aggregate({ ...query, bucketMs: 10_000, agg: 'avg' }))['temp']).toEqual([]);
  });
});

describe('query plans', () => {
  let sut: SqliteDatabase;
  let plan: (sql: string, params: unknown[]) => string[];

  beforeAll(async () => {
    sut = await newStorage();
    const db = sqliteOf(sut);
    plan = (text, params) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
  });

  afterAll(() => sut.close());

  const piece = [MINUTE_MS, 'a', '["t"]', 0, 1];

  it('reads each tier of an aggregate by (device, key, time) ranges, never a scan', () => {
    for (const agg of ['avg', 'last'] as const) {
      const steps = plan(aggregateSql(agg, ['raw', 'minute', 'hour', 'minute', 'raw']), [
        ...piece,
        ...piece,
        ...piece,
        ...piece,
        ...piece,
      ]);
      expect(steps.filter((s) => s.startsWith('SEARCH'))).toEqual([
        'SEARCH message USING PRIMARY KEY (device_id=? AND ts>? AND ts<?)',
        'SEARCH telemetry_1m USING INDEX telemetry_1m_series (device_id=? AND key=? AND bucket>? AND bucket<?)',
        'SEARCH telemetry_1h USING INDEX telemetry_1h_series (device_id=? AND key=? AND bucket>? AND bucket<?)',
        'SEARCH telemetry_1m USING INDEX telemetry_1m_series (device_id=? AND key=? AND bucket>? AND bucket<?)',
        'SEARCH message USING PRIMARY KEY (device_id=? AND ts>? AND ts<?)',
      ]);
      expect(steps.filter((s) => /^SCAN (message|telemetry|latest|events)/.test(s))).toEqual([]);
    }
  });

  it.each<[string, string, unknown[], string]>([
    [
      'raw history',
      'SELECT ts, data FROM telemetry_messages WHERE device_id = ? AND ts >= ? AND ts < ? ORDER BY ts DESC, seq DESC',
      ['a', 0, 1],
      'SEARCH telemetry_messages USING PRIMARY KEY (device_id=? AND ts>? AND ts<?)',
    ],
    [
      'the keys of a device',
      'SELECT key FROM latest WHERE device_id = ? ORDER BY key',
      ['a'],
      'SEARCH latest USING PRIMARY KEY (device_id=?)',
    ],
    [
      'latest values',
      'SELECT * FROM latest WHERE device_id IN (?, ?)',
      ['a', 'b'],
      'SEARCH latest USING PRIMARY KEY (device_id=?)',
    ],
    [
      'resume (events after a seq)',
      'SELECT seq, type, device_id, data FROM events WHERE seq > ? AND device_id IN (?) ORDER BY seq LIMIT ?',
      [1, 'a', 1000],
      'SEARCH events USING INTEGER PRIMARY KEY (rowid>?)',
    ],
    [
      'raw retention',
      'DELETE FROM telemetry_messages WHERE device_id = ? AND ts <= ?',
      ['a', 1],
      'SEARCH telemetry_messages USING PRIMARY KEY (device_id=? AND ts<?)',
    ],
    [
      'rollup retention',
      'DELETE FROM telemetry_1m WHERE bucket <= ? AND (bucket, device_id, key) <= (?, ?, ?)',
      [1, 1, 'a', 't'],
      'SEARCH telemetry_1m USING PRIMARY KEY (bucket<?)',
    ],
  ])('%s is one index search and needs no sort', (_name, text, params, step) => {
    // Reads of the `telemetry` view also list each message's values (json_each), in the order found.
    expect(plan(text, params).filter((s) => s !== 'SCAN value VIRTUAL TABLE INDEX 1:')).toEqual([step]);
  });
});

describe('migrations 0002_rollups and 0004_telemetry_messages', () => {
  it('roll up the history stored before them, and keep every raw value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iot-rollups-'));
    try {
      const path = join(dir, 'iot.db');
      const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(path) }) });
      const { error } = await new Migrator({ db, provider: migrationProvider }).migrateTo('0001_init');
      expect(error).toBeUndefined();
      await db.destroy();
      // History written by the previous version: raw rows only.
      const source = await newStorage();
      const points = await load(source);
      const raw = sqliteOf(source).prepare('SELECT * FROM telemetry').all() as Array<Record<string, unknown>>;
      const old = new BetterSqlite3(path);
      const insert = old.prepare(
        'INSERT INTO telemetry (device_id, key, ts, seq, kind, num, str) VALUES (@device_id, @key, @ts, @seq, @kind, @num, @str)',
      );
      old.transaction(() => raw.forEach((row) => insert.run(row)))();
      old
        .prepare(
          'INSERT INTO latest (device_id, key, ts, kind, num, str) SELECT DISTINCT device_id, key, 0, 0, 0, NULL FROM telemetry',
        )
        .run();
      old.close();

      const sut = await SqliteDatabase.open(path);
      const hour = T0 - (T0 % HOUR_MS);
      for (const agg of ['avg', 'count', 'last'] as const) {
        for (const bucketMs of [MINUTE_MS, HOUR_MS]) {
          const query = { deviceId: 'a', from: hour - HOUR_MS, to: hour + 3 * HOUR_MS, bucketMs, agg };
          const series = await sut.telemetry.aggregate(query);
          expect(series['temp']).toEqual(reference(points['temp'], query.from, query.to, bucketMs, agg));
          expect(series).toEqual(await source.telemetry.aggregate(query));
        }
      }
      // 0004 regrouped the raw rows by message: every value reads back as it was, booleans and text included.
      const everything = { deviceId: 'a', limit: 100_000, order: 'asc' } as const;
      expect(await sut.telemetry.history(everything)).toEqual(await source.telemetry.history(everything));
      await sut.close();
      await source.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
