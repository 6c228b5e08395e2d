import { Inject, Injectable } from '@nestjs/common';
import {
  HISTORY_LIMITS,
  LIMITS,
  type TelemetryQuery,
  type TelemetryValues,
  type TelemetrySeriesResponse,
  bucketCount,
  bucketProblem,
  pickBucket,
} from '@iot/protocol';
import { DomainError } from '../../domain/errors';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { TelemetryRepository } from '../../domain/telemetry';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
/**
 * `points=N` keeps each key's read to about 20,000 stored rows: raw rows (at
 * 1 Hz) up to 6 hours, per-minute rollups up to 14 days, then per-hour ones.
 */
const RAW_SPAN_MS = 6 * HOUR_MS;
const MINUTE_SPAN_MS = 14 * 24 * HOUR_MS;

/**
 * Answers `GET /devices/{id}/telemetry`: raw points, or aggregates per bucket.
 * Resolves what the query leaves open (range, bucket) and refuses what would
 * be too big; the storage layer computes the aggregates in SQL.
 */
@Injectable()
export class TelemetryHistory {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly telemetry: TelemetryRepository,
  ) {}

  /**
   * Takes in the keys of a message's entries, all or none: if they would take
   * the device past `max` distinct keys, nothing is added and the number of
   * keys it has is returned (the message is to be refused); else undefined.
   */
  admitKeys(deviceId: string, entries: ReadonlyArray<{ values: TelemetryValues }>, max: number): number | undefined {
    return this.telemetry.keys.admit(deviceId, entries, max);
  }

  async query(deviceId: string, query: TelemetryQuery, now = Date.now()): Promise<TelemetrySeriesResponse> {
    const { keys, limit, order } = query;
    if (query.bucket === undefined && query.points === undefined) {
      return {
        deviceId,
        series: await this.telemetry.history({
          deviceId,
          keys,
          from: query.from,
          to: query.to,
          limit,
          order,
          maxPoints: LIMITS.maxHistoryPoints,
        }),
      };
    }
    // Without `to`, nothing stored is left out: no accepted point is later than now plus the allowed clock skew.
    const to = query.to ?? now + LIMITS.maxClockSkewMs;
    let from = query.from ?? to - HISTORY_LIMITS.defaultSpanMs;
    if (from >= to) throw new DomainError('bad_request', '"from" must be before "to"');
    // Raw rows older than TELEMETRY_RETENTION are gone; only whole minutes (rollups) remain there.
    const rawSince = this.config.telemetryRetentionMs > 0 ? now - this.config.telemetryRetentionMs : undefined;
    const beforeRaw = rawSince !== undefined && from < rawSince;
    const span = to - from;
    const narrowest = span > MINUTE_SPAN_MS ? HOUR_MS : beforeRaw || span > RAW_SPAN_MS ? MINUTE_MS : 1;
    const bucketMs = query.bucket ?? pickBucket(from, to, query.points ?? 1, narrowest);
    const problem = bucketProblem(from, to, bucketMs);
    if (problem) throw new DomainError('bad_request', problem);
    let end = to;
    if (beforeRaw && bucketMs % MINUTE_MS === 0) {
      from -= from % MINUTE_MS;
      if (end <= rawSince) end = Math.ceil(end / MINUTE_MS) * MINUTE_MS;
    }
    // The answer's size, bounded before anything is read: each key may have a point in every bucket.
    const keyCount = keys?.length ?? this.telemetry.keys.count(deviceId);
    const most = keyCount * bucketCount(from, end, bucketMs);
    if (most > LIMITS.maxHistoryPoints) {
      throw new DomainError(
        'bad_request',
        `this query may make ${most} points over ${keyCount} keys, more than ${LIMITS.maxHistoryPoints}: ` +
          'ask for fewer keys, a wider bucket or a shorter range',
      );
    }
    const agg = query.agg ?? 'avg';
    const series = await this.telemetry.aggregate({ deviceId, keys, from, to: end, bucketMs, agg });
    for (const key in series) {
      const points = order === 'desc' ? series[key].reverse() : series[key];
      series[key] = points.length > limit ? points.slice(0, limit) : points;
    }
    return { deviceId, from, to: end, bucketMs, agg, series };
  }
}
