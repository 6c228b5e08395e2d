import { LIMITS, type TelemetryQuery } from '@iot/protocol';
import type { AggregateQuery, HistoryQuery, Series, TelemetryRepository } from '../../domain/telemetry';
import { TelemetryKeys } from '../../domain/telemetry-keys';
import { refusalOf, strictFake } from '../../domain/testing';
import type { AppConfig } from '../../platform/config/config';
import { TelemetryHistory } from './telemetry-history.service';

const NOW = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DEVICE = 'dev-1';


const query = (fields: Partial<TelemetryQuery>): TelemetryQuery => ({ limit: 10_000, order: 'asc', ...fields });

describe('TelemetryHistory', () => {
  let keys: TelemetryKeys;
  let histories: HistoryQuery[];
  let aggregates: AggregateQuery[];
  let series: Series;

  /** `retentionMs`: TELEMETRY_RETENTION, 0 for none. */
  function make(retentionMs = 0): TelemetryHistory {
    const telemetry = strictFake<TelemetryRepository>(
      {
        keys,
        history: async (q) => {
          histories.push(q);
          return series;
        },
        aggregate: async (q) => {
          aggregates.push(q);
          return series;
        },
      },
      'telemetry',
    );
    return new TelemetryHistory({ telemetryRetentionMs: retentionMs } as AppConfig, telemetry);
  }

  beforeEach(() => {
    keys = new TelemetryKeys();
    keys.load([{ deviceId: DEVICE, key: 't' }]);
    histories = [];
    aggregates = [];
    series = { t: [] };
  });

  it('reads raw points as asked when neither bucket nor points is given, bounded in all', async () => {
    series = { t: [[NOW - 1, 20]] };
    const answer = await make().query(
      DEVICE,
      query({ keys: ['t'], from: NOW - HOUR, to: NOW, limit: 5, order: 'desc' }),
      NOW,
    );

    expect(answer).toEqual({ deviceId: DEVICE, series });
    expect(histories).toEqual([
      {
        deviceId: DEVICE,
        keys: ['t'],
        from: NOW - HOUR,
        to: NOW,
        limit: 5,
        order: 'desc',
        maxPoints: LIMITS.maxHistoryPoints,
      },
    ]);
  });

  it('aggregates over the default range with the bucket picked for about N points, newest first, at most `limit`', async () => {
    series = {
      t: [
        [NOW - 3 * MINUTE, 1],
        [NOW - 2 * MINUTE, 2],
        [NOW - MINUTE, 3],
      ],
    };
    const answer = await make().query(DEVICE, query({ points: 100, limit: 2, order: 'desc' }), NOW);

    // The range ends after the latest time a point may have (now plus the allowed clock skew) and spans a day.
    const to = NOW + LIMITS.maxClockSkewMs;
    const from = to - 24 * HOUR;
    expect(aggregates).toEqual([{ deviceId: DEVICE, keys: undefined, from, to, bucketMs: 15 * MINUTE, agg: 'avg' }]);
    expect(answer).toEqual({
      deviceId: DEVICE,
      from,
      to,
      bucketMs: 15 * MINUTE,
      agg: 'avg',
      series: {
        t: [
          [NOW - MINUTE, 3],
          [NOW - 2 * MINUTE, 2],
        ],
      },
    });
  });

  it('refuses a range whose start is not before its end with bad_request, reading nothing', async () => {
    const sut = make();
    expect(await refusalOf(() => sut.query(DEVICE, query({ bucket: MINUTE, from: NOW + HOUR }), NOW))).toBe(
      'bad_request',
    );
    expect([histories, aggregates]).toEqual([[], []]);
  });

  it('refuses a bucket that makes too many points per key with bad_request, reading nothing', async () => {
    const sut = make();
    const tooFine = query({ bucket: 1, from: NOW - HOUR, to: NOW });
    expect(await refusalOf(() => sut.query(DEVICE, tooFine, NOW))).toBe('bad_request');
    expect(aggregates).toEqual([]);
  });

  it('refuses a query that may make more points over all keys than the bound, counting the device keys when none are named', async () => {
    keys.load(Array.from({ length: 1_000 }, (_, i) => ({ deviceId: DEVICE, key: `k${i}` })));
    const sut = make();
    // 1,001 keys × 1,440 minutes is over a million points; the same buckets over 600 keys are not.
    const day = { bucket: MINUTE, from: NOW - 24 * HOUR, to: NOW };
    await expect(sut.query(DEVICE, query(day), NOW)).rejects.toThrow(/1441440 points over 1001 keys/);
    expect(await refusalOf(() => sut.query(DEVICE, query(day), NOW))).toBe('bad_request');
    expect(aggregates).toEqual([]);

    await sut.query(DEVICE, query({ ...day, keys: Array.from({ length: 600 }, (_, i) => `k${i}`) }), NOW);
    expect(aggregates).toHaveLength(1);
  });

  it('reads whole minutes where raw rows are past their retention', async () => {
    const sut = make(HOUR);
    const from = NOW - 2 * HOUR + 30_000;
    const to = NOW - 90 * MINUTE + 10_000;

    const answer = await sut.query(DEVICE, query({ bucket: MINUTE, from, to }), NOW);
    expect(aggregates[0]).toMatchObject({ from: NOW - 2 * HOUR, to: NOW - 89 * MINUTE, bucketMs: MINUTE });
    expect(answer).toMatchObject({ from: NOW - 2 * HOUR, to: NOW - 89 * MINUTE });

    // `points` there picks no bucket finer than a minute; within the retention it may.
    await sut.query(DEVICE, query({ points: 1_000, from, to: from + 20 * MINUTE }), NOW);
    await make(HOUR).query(DEVICE, query({ points: 1_000, from: NOW - 30 * MINUTE, to: NOW - 10 * MINUTE }), NOW);
    expect(aggregates.slice(1).map((a) => a.bucketMs)).toEqual([MINUTE, 2_000]);
  });
});
