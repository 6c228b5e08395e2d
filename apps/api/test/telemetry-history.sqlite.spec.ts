import { type TelemetryQuery, telemetryQuerySchema } from '@iot/protocol';
import { DomainError } from '../src/domain/errors';
import type { AppConfig } from '../src/platform/config/config';
import { TelemetryHistory } from '../src/core/telemetry/telemetry-history.service';
import { telemetryEvent } from '../src/domain/events';
import type { AggregateQuery } from '../src/domain/telemetry';
import { SqliteDatabase } from '../src/storage/sqlite-database';

const DAY = 86_400_000;
const MINUTE = 60_000;
/** 2026-01-01T00:00:00Z: "now" in these tests. */
const NOW = Date.UTC(2026, 0, 1);

describe('TelemetryHistory', () => {
  let database: SqliteDatabase;
  let sut: TelemetryHistory;
  let seen: AggregateQuery[];

  const query = (q: Record<string, unknown>): TelemetryQuery => telemetryQuerySchema.parse(q);
  const make = (telemetryRetentionMs: number) =>
    new TelemetryHistory({ telemetryRetentionMs, rollupRetentionMs: 0 } as AppConfig, database.telemetry);

  beforeEach(async () => {
    database = await SqliteDatabase.open(':memory:');
    await database.devices.create(
      { id: 'd', name: 'd', type: null, labels: {}, online: false, lastSeen: null, createdAt: 0, updatedAt: 0 },
      'h',
    );
    // One point a minute over the last 3 days, value = minutes since the start.
    const start = NOW - 3 * DAY;
    const events = Array.from({ length: 3 * 1440 }, (_, i) => telemetryEvent('d', start + i * MINUTE, { t: i }));
    await database.events.append(events);
    seen = [];
    const aggregate = database.telemetry.aggregate.bind(database.telemetry);
    database.telemetry.aggregate = (q) => {
      seen.push(q);
      return aggregate(q);
    };
    sut = make(0);
  });

  afterEach(() => database.close());

  it('answers raw queries without a bucket, as before', async () => {
    const answer = await sut.query('d', query({ from: String(NOW - 2 * MINUTE) }), NOW);
    expect(answer).toEqual({
      deviceId: 'd',
      series: {
        t: [
          [NOW - 2 * MINUTE, 4318],
          [NOW - MINUTE, 4319],
        ],
      },
    });
    expect(seen).toEqual([]);
  });

  it('defaults to the 24 hours up to 5 minutes from now, averaged', async () => {
    const answer = await sut.query('d', query({ bucket: '1h' }), NOW);
    expect(seen).toEqual([
      {
        deviceId: 'd',
        from: NOW + 5 * MINUTE - DAY,
        to: NOW + 5 * MINUTE,
        bucketMs: 3_600_000,
        agg: 'avg',
        keys: undefined,
      },
    ]);
    // The first bucket is partial: from 23:05 the day before (minute 2885 of the data) to 00:00 (minute 2940).
    expect(answer.series['t'][0]).toEqual([NOW - DAY, (2885 + 2939) / 2]);
    expect(answer.series['t']).toHaveLength(24);
  });

  it('chooses the bucket for points=N and applies order and limit to the buckets', async () => {
    const answer = await sut.query(
      'd',
      query({ from: String(NOW - DAY), to: String(NOW), points: '100', agg: 'max', order: 'desc', limit: '3' }),
      NOW,
    );
    expect(answer).toMatchObject({ from: NOW - DAY, to: NOW, bucketMs: 15 * MINUTE, agg: 'max' });
    expect(answer.series['t']).toEqual([
      [NOW - 15 * MINUTE, 4319],
      [NOW - 30 * MINUTE, 4304],
      [NOW - 45 * MINUTE, 4289],
    ]);
  });

  it.each<[number, number, number]>([
    [3_600_000, 1000, 5000],
    [12 * 3_600_000, 2000, MINUTE],
    [7 * DAY, 3000, 5 * MINUTE],
    [30 * DAY, 500, 2 * 3_600_000],
    [30 * DAY, 2000, 3_600_000],
  ])(
    'keeps points=N to about 20,000 stored rows per key: %p ms in %p points → %p ms buckets',
    async (span, points, bucketMs) => {
      const answer = await sut.query(
        'd',
        query({ from: String(NOW - span), to: String(NOW), points: String(points) }),
        NOW,
      );
      expect(answer.bucketMs).toBe(bucketMs);
    },
  );

  it.each<[Record<string, unknown>, RegExp]>([
    [{ bucket: '1s' }, /bucket 1s over this range makes 86400 points per key, more than 10000/],
    [{ bucket: '1m', from: String(NOW + DAY) }, /"from" must be before "to"/],
  ])('refuses %j', async (q, message) => {
    await expect(sut.query('d', query(q), NOW)).rejects.toThrow(DomainError);
    await expect(sut.query('d', query(q), NOW)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(sut.query('d', query(q), NOW)).rejects.toThrow(message);
  });

  it('refuses an aggregate that may make more than 1,000,000 points over every key of a device, before reading', async () => {
    const keys = Array.from({ length: 250 }, (_, i) => `k${i}`);
    database.telemetry.keys.admit('d', [{ values: Object.fromEntries(keys.map((k) => [k, 1])) }], 1000);
    const wide = { from: String(NOW - 10_000), to: String(NOW), bucket: '2ms' };
    await expect(sut.query('d', query(wide), NOW)).rejects.toThrow(
      'this query may make 1250000 points over 250 keys, more than 1000000: ask for fewer keys, a wider bucket or a shorter range',
    );
    expect(seen).toEqual([]);
    // A key list of its own is counted instead, and a wider bucket fits.
    await expect(sut.query('d', query({ ...wide, keys: 't' }), NOW)).resolves.toMatchObject({ bucketMs: 2 });
    await expect(sut.query('d', query({ ...wide, bucket: '5ms' }), NOW)).resolves.toMatchObject({ bucketMs: 5 });
  });

  it('widens a range reaching past raw retention to whole minutes, and picks at least a minute there', async () => {
    sut = make(DAY);
    const from = NOW - 2 * DAY + 30_000;
    const answer = await sut.query(
      'd',
      query({ from: String(from), to: String(from + 10 * MINUTE), points: '1000', agg: 'count' }),
      NOW,
    );
    expect(answer).toMatchObject({ from: NOW - 2 * DAY, to: from + 10 * MINUTE + 30_000, bucketMs: MINUTE });
    expect(answer.series['t']).toHaveLength(11);
    // Inside raw retention nothing changes.
    const recent = await sut.query(
      'd',
      query({ from: String(NOW - 10 * MINUTE + 1), to: String(NOW), points: '1000', agg: 'count' }),
      NOW,
    );
    expect(recent).toMatchObject({ from: NOW - 10 * MINUTE + 1, bucketMs: 1000 });
  });
});
