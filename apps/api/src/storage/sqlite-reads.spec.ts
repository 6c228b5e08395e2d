import BetterSqlite3 from 'better-sqlite3';
import { SqliteDatabase } from './sqlite-database';
import { SqliteReads } from './sqlite-reads';
import { telemetryEvent } from '../domain/events';

/** The store's own connection (in memory there is no other). */
function sqliteOf(database: SqliteDatabase): BetterSqlite3.Database {
  return (database as unknown as { sqlite: BetterSqlite3.Database }).sqlite;
}

describe('SqliteReads', () => {
  let database: SqliteDatabase;
  let sut: SqliteReads;

  beforeAll(async () => {
    database = await SqliteDatabase.open(':memory:');
    await database.devices.create(
      { id: 'a', name: 'a', type: null, labels: {}, online: false, lastSeen: null, createdAt: 0, updatedAt: 0 },
      'hash',
    );
    // 10 messages of keys k0..k9 (value = message × 100 + key), and a key only in the first and last.
    await database.events.append(
      Array.from({ length: 10 }, (_, m) =>
        telemetryEvent('a', 1000 + m, {
          ...Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`k${k}`, m * 100 + k])),
          ...((m === 0 || m === 9) && { rare: m === 0 ? 'first' : 'last' }),
        }),
      ),
    );
    sut = new SqliteReads(sqliteOf(database));
  });

  afterAll(() => database.close());

  it('reads every key of the device from `latest` when none are named, each to its limit', () => {
    const series = sut.rawHistory({ deviceId: 'a', limit: 2, order: 'desc' });
    expect(Object.keys(series)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9', 'rare']);
    expect(series['k3']).toEqual([
      [1009, 903],
      [1008, 803],
    ]);
    expect(series['rare']).toEqual([
      [1009, 'last'],
      [1000, 'first'],
    ]);
  });

  it('reads named keys in their order, an unknown one empty, and stays inside the range', () => {
    expect(
      sut.rawHistory({ deviceId: 'a', keys: ['k9', 'nothing', 'k0'], from: 1003, to: 1005, limit: 10, order: 'asc' }),
    ).toEqual({
      k9: [
        [1003, 309],
        [1004, 409],
      ],
      nothing: [],
      k0: [
        [1003, 300],
        [1004, 400],
      ],
    });
    expect(sut.rawHistory({ deviceId: 'nobody', limit: 10, order: 'asc' })).toEqual({});
  });

  it('stops at the end of the message that fills the answer to maxPoints: every series ends at the same time', () => {
    const series = sut.rawHistory({ deviceId: 'a', limit: 100, order: 'asc', maxPoints: 25 });
    // 11 values in the first message, 10 in the next: the third reaches 25 and is the last read.
    expect(Object.values(series).reduce((n, points) => n + points.length, 0)).toBe(31);
    expect(series['k5'].map(([ts]) => ts)).toEqual([1000, 1001, 1002]);
    expect(series['rare']).toEqual([[1000, 'first']]);
  });

  it('aggregates every key in one query, as each one alone', () => {
    const query = { deviceId: 'a', from: 1000, to: 1010, bucketMs: 5, agg: 'sum' as const };
    const all = sut.aggregate(query);
    expect(Object.keys(all)).toHaveLength(11);
    for (const key of Object.keys(all)) expect(sut.aggregate({ ...query, keys: [key] })).toEqual({ [key]: all[key] });
    expect(all['k1']).toEqual([
      [1000, 0 + 100 + 200 + 300 + 400 + 5],
      [1005, 500 + 600 + 700 + 800 + 900 + 5],
    ]);
    expect(all['rare']).toEqual([]);
    expect(sut.aggregate({ ...query, agg: 'last', keys: ['rare', 'k2'] })).toEqual({
      rare: [
        [1000, 'first'],
        [1005, 'last'],
      ],
      k2: [
        [1000, 402],
        [1005, 902],
      ],
    });
  });
});
