import type { LatestValues, TelemetryAggregation, TelemetryValue } from '@iot/protocol';
import type { TelemetryKeys } from './telemetry-keys';

export interface HistoryQuery {
  deviceId: string;
  keys?: string[];
  from?: number;
  to?: number;
  limit: number;
  order: 'asc' | 'desc';
  /**
   * Stop reading once the answer holds this many points over all keys, at the
   * end of the message that reaches it: every series then ends at the same time.
   */
  maxPoints?: number;
}

export type Series = Record<string, Array<[number, TelemetryValue]>>;

/** One aggregated history query: the bucket and range are already checked and resolved. */
export interface AggregateQuery {
  deviceId: string;
  keys?: string[];
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  /** Bucket width in ms; buckets are aligned to the epoch. */
  bucketMs: number;
  agg: TelemetryAggregation;
}

/** Where telemetry history lives: raw rows, and the per-minute and per-hour rollups made from them. */
export type TelemetryTier = 'raw' | 'minute' | 'hour';

/** Where a prune goes on from: the device it stopped at. */
export interface PruneCursor {
  deviceId: string;
}

/** What one prune call did: `more` is false once nothing older is left; pass `next` to the next call. */
export interface PruneResult {
  removed: number;
  more: boolean;
  next?: PruneCursor;
}

/**
 * Telemetry as stored: the latest value of each key, raw history and its
 * rollups. It is written by the event log (EventRepository.append), which
 * stores a telemetry event's history row with the event.
 */
export abstract class TelemetryRepository {
  /** Each device's distinct telemetry keys, in memory: ingest bounds them (TELEMETRY_MAX_KEYS_PER_DEVICE). */
  abstract readonly keys: TelemetryKeys;
  abstract latest(deviceIds: string[]): Promise<Map<string, LatestValues>>;
  abstract history(query: HistoryQuery): Promise<Series>;
  /**
   * One point per non-empty bucket per key, labelled by the bucket's start,
   * computed in the database from the finest tier that serves the bucket.
   */
  abstract aggregate(query: AggregateQuery): Promise<Series>;
  /**
   * Deletes rows of `tier` older than `before` (epoch ms) in one short
   * transaction of about `budget` rows at most, going on from `start` (the
   * previous call's `next`).
   */
  abstract prune(tier: TelemetryTier, before: number, budget: number, start?: PruneCursor): Promise<PruneResult>;
}
