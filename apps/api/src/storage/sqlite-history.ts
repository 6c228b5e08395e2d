import type BetterSqlite3 from 'better-sqlite3';
import type { TelemetryAggregation, TelemetryValue } from '@iot/protocol';
import { toValue } from './schema';
import type { AggregateQuery, PruneCursor, PruneResult, TelemetryTier } from '../domain/telemetry';

/**
 * Telemetry history on SQLite beyond raw reads: the per-minute and per-hour
 * rollups kept by ingest, aggregated queries over them, and retention.
 *
 * A rollup row holds, for one (device, key, minute or hour): the count of all
 * values; count, sum, min and max of the numeric ones (booleans as 0/1); and
 * the newest value by (ts, seq). Each aggregation is exact from those, so a
 * bucket made of whole minutes (or hours) reads the rollup instead of the raw
 * rows and gives the same answer, up to the rounding of float sums added in
 * another order.
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/** Table and time column of each tier; rollup rows are timed by their bucket's start. */
const TIERS = {
  raw: { table: 'telemetry', time: 'ts', ms: 1 },
  minute: { table: 'telemetry_1m', time: 'bucket', ms: MINUTE_MS },
  hour: { table: 'telemetry_1h', time: 'bucket', ms: HOUR_MS },
} as const satisfies Record<TelemetryTier, { table: string; time: string; ms: number }>;

/** The rollup tiers, widest first. */
const ROLLUPS = ['hour', 'minute'] as const;

/** The finest data an aggregate over buckets of `bucketMs` may read: a tier whose rows never straddle a bucket edge. */
export function sourceTier(bucketMs: number): TelemetryTier {
  for (const tier of ROLLUPS) if (bucketMs % TIERS[tier].ms === 0) return tier;
  return 'raw';
}

export interface Piece {
  tier: TelemetryTier;
  from: number;
  to: number;
}

/**
 * Splits `[from, to)` into pieces each read from one tier: the widest tier
 * allowed (`widest`, then the narrower ones) for the whole hours or minutes
 * inside, narrower ones for the ragged ends. So a query whose ends are not on
 * a minute or hour still counts exactly the points in `[from, to)`.
 */
export function splitRange(from: number, to: number, widest: TelemetryTier): Piece[] {
  const tiers = ROLLUPS.slice(widest === 'raw' ? ROLLUPS.length : ROLLUPS.indexOf(widest));
  const out: Piece[] = [];
  const cover = (a: number, b: number, level: number): void => {
    if (a >= b) return;
    const tier = tiers[level];
    if (tier === undefined) {
      out.push({ tier: 'raw', from: a, to: b });
      return;
    }
    const ms = TIERS[tier].ms;
    const start = Math.ceil(a / ms) * ms;
    const end = Math.floor(b / ms) * ms;
    if (start >= end) return cover(a, b, level + 1);
    cover(a, start, level + 1);
    out.push({ tier, from: start, to: end });
    cover(end, b, level + 1);
  };
  cover(from, to, 0);
  return out;
}

// Per-bucket inputs of each aggregate, from a raw row or a rollup row, for every key of a list at
// once (a JSON array): a raw piece unpacks each message in its range once, whatever the number of
// keys, and a rollup piece walks the series index once per key, (device, key, time) ranges.
const KEY_IN = 'key IN (SELECT value FROM json_each(?))';
const RAW_PART =
  'SELECT key, ts - ts % ? AS bucket, 1 AS count, CASE WHEN num IS NULL THEN 0 ELSE 1 END AS num_count, ' +
  `num AS num_sum, num AS num_min, num AS num_max FROM telemetry WHERE device_id = ? AND ${KEY_IN} AND ts >= ? AND ts < ?`;
const rollupPart = (table: string) =>
  `SELECT key, bucket - bucket % ? AS bucket, count, num_count, num_sum, num_min, num_max FROM ${table} ` +
  `WHERE device_id = ? AND ${KEY_IN} AND bucket >= ? AND bucket < ?`;
const RAW_LAST_PART =
  'SELECT key, ts - ts % ? AS bucket, ts, seq, kind, num, str FROM telemetry ' +
  `WHERE device_id = ? AND ${KEY_IN} AND ts >= ? AND ts < ?`;
const rollupLastPart = (table: string) =>
  `SELECT key, bucket - bucket % ? AS bucket, last_ts AS ts, last_seq AS seq, last_kind AS kind, last_num AS num, last_str AS str ` +
  `FROM ${table} WHERE device_id = ? AND ${KEY_IN} AND bucket >= ? AND bucket < ?`;

/** How each aggregation combines the parts of a bucket, and when a bucket counts as empty. */
const COMBINE: Record<Exclude<TelemetryAggregation, 'last'>, { value: string; having: string }> = {
  avg: { value: 'SUM(num_sum) / SUM(num_count)', having: 'SUM(num_count) > 0' },
  min: { value: 'MIN(num_min)', having: 'SUM(num_count) > 0' },
  max: { value: 'MAX(num_max)', having: 'SUM(num_count) > 0' },
  sum: { value: 'SUM(num_sum)', having: 'SUM(num_count) > 0' },
  count: { value: 'SUM(count)', having: 'SUM(count) > 0' },
};

/**
 * The SQL of one aggregate over the given pieces, rows ordered by key and bucket; parameters are
 * (bucketMs, deviceId, keys as a JSON array, from, to) per piece.
 */
export function aggregateSql(agg: TelemetryAggregation, tiers: TelemetryTier[]): string {
  if (agg === 'last') {
    const parts = tiers.map((t) => (t === 'raw' ? RAW_LAST_PART : rollupLastPart(TIERS[t].table)));
    // The newest value of each bucket: highest (ts, seq), as a raw `last` would pick it.
    return (
      'SELECT key, bucket, kind, num, str FROM (SELECT key, bucket, kind, num, str, ' +
      'ROW_NUMBER() OVER (PARTITION BY key, bucket ORDER BY ts DESC, seq DESC) AS rn ' +
      `FROM (${parts.join(' UNION ALL ')})) WHERE rn = 1 ORDER BY key, bucket`
    );
  }
  const parts = tiers.map((t) => (t === 'raw' ? RAW_PART : rollupPart(TIERS[t].table)));
  const { value, having } = COMBINE[agg];
  return `SELECT key, bucket, ${value} AS value FROM (${parts.join(' UNION ALL ')}) GROUP BY key, bucket HAVING ${having} ORDER BY key, bucket`;
}

/** A rollup row in the making: one (device, key, bucket). */
interface RollupRow {
  deviceId: string;
  key: string;
  bucket: number;
  count: number;
  numCount: number;
  numSum: number;
  numMin: number | null;
  numMax: number | null;
  lastTs: number;
  lastSeq: number;
  lastKind: number;
  lastNum: number | null;
  lastStr: string | null;
}

function newer(a: RollupRow, b: RollupRow): boolean {
  return a.lastTs > b.lastTs || (a.lastTs === b.lastTs && a.lastSeq > b.lastSeq);
}

function merge(into: RollupRow, p: RollupRow): void {
  into.count += p.count;
  into.numCount += p.numCount;
  into.numSum += p.numSum;
  if (p.numMin !== null && (into.numMin === null || p.numMin < into.numMin)) into.numMin = p.numMin;
  if (p.numMax !== null && (into.numMax === null || p.numMax > into.numMax)) into.numMax = p.numMax;
  if (newer(p, into)) {
    into.lastTs = p.lastTs;
    into.lastSeq = p.lastSeq;
    into.lastKind = p.lastKind;
    into.lastNum = p.lastNum;
    into.lastStr = p.lastStr;
  }
}

export type UpsertParams = [
  string,
  string,
  number,
  number,
  number,
  number,
  number | null,
  number | null,
  number,
  number,
  number,
  number | null,
  string | null,
];

/**
 * One batch's rollups, summed in memory per (device, key, minute) and then per
 * hour, so the ingest transaction does one upsert per group, not per value.
 */
export class RollupBatch {
  /**
   * Device → key → that series' minutes in this batch (nearly always one).
   * Nested maps rather than one keyed by a joined string: `add` runs for
   * every value ingested, and a string built per value was most of its cost.
   */
  private readonly minutes = new Map<string, Map<string, RollupRow[]>>();

  constructor(private readonly upserts: RollupUpserts) {}

  add(
    deviceId: string,
    key: string,
    ts: number,
    seq: number,
    kind: number,
    num: number | null,
    str: string | null,
  ): void {
    const bucket = ts - (ts % MINUTE_MS);
    let series = this.minutes.get(deviceId);
    if (series === undefined) this.minutes.set(deviceId, (series = new Map()));
    let rows = series.get(key);
    if (rows === undefined) series.set(key, (rows = []));
    let p: RollupRow | undefined;
    for (const row of rows) if (row.bucket === bucket) p = row;
    if (p === undefined) {
      rows.push({
        deviceId,
        key,
        bucket,
        count: 1,
        numCount: num === null ? 0 : 1,
        numSum: num ?? 0,
        numMin: num,
        numMax: num,
        lastTs: ts,
        lastSeq: seq,
        lastKind: kind,
        lastNum: num,
        lastStr: str,
      });
      return;
    }
    p.count++;
    if (num !== null) {
      p.numCount++;
      p.numSum += num;
      if (p.numMin === null || num < p.numMin) p.numMin = num;
      if (p.numMax === null || num > p.numMax) p.numMax = num;
    }
    if (ts > p.lastTs || (ts === p.lastTs && seq > p.lastSeq)) {
      p.lastTs = ts;
      p.lastSeq = seq;
      p.lastKind = kind;
      p.lastNum = num;
      p.lastStr = str;
    }
  }

  /** Upserts the minutes, then the hours made from them. Runs inside the ingest transaction. */
  write(): void {
    for (const series of this.minutes.values()) {
      for (const minutes of series.values()) {
        const hours: RollupRow[] = [];
        for (const m of minutes) {
          this.upsert('minute', m);
          const bucket = m.bucket - (m.bucket % HOUR_MS);
          const h = hours.find((row) => row.bucket === bucket);
          if (h === undefined) hours.push({ ...m, bucket });
          else merge(h, m);
        }
        for (const h of hours) this.upsert('hour', h);
      }
    }
    this.minutes.clear();
  }

  private upsert(tier: 'minute' | 'hour', p: RollupRow): void {
    this.upserts[tier].run(
      p.deviceId,
      p.key,
      p.bucket,
      p.count,
      p.numCount,
      p.numSum,
      p.numMin,
      p.numMax,
      p.lastTs,
      p.lastSeq,
      p.lastKind,
      p.lastNum,
      p.lastStr,
    );
  }
}

/** The upserts of each rollup tier: SQLite's prepared statements, or PostgreSQL's rows of one multi-row upsert. */
export type RollupUpserts = Record<'minute' | 'hour', { run(...params: UpsertParams): unknown }>;

export function prepareRollupUpserts(sqlite: BetterSqlite3.Database): RollupUpserts {
  return {
    minute: sqlite.prepare<UpsertParams>(upsertSql(TIERS.minute.table)),
    hour: sqlite.prepare<UpsertParams>(upsertSql(TIERS.hour.table)),
  };
}

function upsertSql(table: string): string {
  // Unqualified columns on the right are the stored row's; `excluded` is the batch's.
  // MIN/MAX with a NULL give NULL in SQLite, hence the COALESCE (PostgreSQL: LEAST/GREATEST skip NULLs).
  const newer = '(excluded.last_ts, excluded.last_seq) > (last_ts, last_seq)';
  const last = (c: string) => `${c} = CASE WHEN ${newer} THEN excluded.${c} ELSE ${c} END`;
  return (
    `INSERT INTO ${table} (device_id, key, bucket, count, num_count, num_sum, num_min, num_max, ` +
    'last_ts, last_seq, last_kind, last_num, last_str) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
    'ON CONFLICT (bucket, device_id, key) DO UPDATE SET count = count + excluded.count, ' +
    'num_count = num_count + excluded.num_count, num_sum = num_sum + excluded.num_sum, ' +
    'num_min = COALESCE(MIN(num_min, excluded.num_min), num_min, excluded.num_min), ' +
    'num_max = COALESCE(MAX(num_max, excluded.num_max), num_max, excluded.num_max), ' +
    ['last_ts', 'last_seq', 'last_kind', 'last_num', 'last_str'].map(last).join(', ')
  );
}

/** Devices visited by one raw prune call at most: bounds the work per transaction even when little is deleted. */
const DEVICES_PER_PRUNE = 500;

interface PruneStatements {
  /** Raw: the time of the n-th oldest message of a device before a time. */
  nth: BetterSqlite3.Statement<[string, number, number], { t: number }>;
  before: BetterSqlite3.Statement<[string, number]>;
  through: BetterSqlite3.Statement<[string, number]>;
}

/** SqliteTelemetry's history queries beyond raw reads; every method is synchronous, on the connection it is given. */
export class SqliteHistory {
  private readonly aggregates = new Map<string, BetterSqlite3.Statement>();
  private readonly devicesFrom: BetterSqlite3.Statement<[string, number], { device_id: string }>;
  private readonly rawPrune: PruneStatements;
  private readonly rollupPrune: Record<
    'minute' | 'hour',
    {
      nth: BetterSqlite3.Statement<[number, number], { bucket: number; device_id: string; key: string }>;
      through: BetterSqlite3.Statement<[number, number, string, string]>;
      before: BetterSqlite3.Statement<[number]>;
    }
  >;
  private readonly pruneTx: (tier: TelemetryTier, before: number, budget: number, start?: PruneCursor) => PruneResult;

  constructor(private readonly sqlite: BetterSqlite3.Database) {
    // A device with history has `latest` rows, so `latest` lists the devices to prune, in order.
    this.devicesFrom = sqlite.prepare(
      'SELECT DISTINCT device_id FROM latest WHERE device_id >= ? ORDER BY device_id LIMIT ?',
    );
    this.rawPrune = {
      nth: sqlite.prepare(
        'SELECT ts AS t FROM telemetry_messages WHERE device_id = ? AND ts < ? ORDER BY ts LIMIT 1 OFFSET ?',
      ),
      before: sqlite.prepare('DELETE FROM telemetry_messages WHERE device_id = ? AND ts < ?'),
      through: sqlite.prepare('DELETE FROM telemetry_messages WHERE device_id = ? AND ts <= ?'),
    };
    // Rollups are clustered by (bucket, device_id, key): the rows to go are a prefix of the table.
    const rollupPrune = (table: string) => ({
      nth: sqlite.prepare<[number, number], { bucket: number; device_id: string; key: string }>(
        `SELECT bucket, device_id, key FROM ${table} WHERE bucket < ? ORDER BY bucket, device_id, key LIMIT 1 OFFSET ?`,
      ),
      through: sqlite.prepare<[number, number, string, string]>(
        `DELETE FROM ${table} WHERE bucket <= ? AND (bucket, device_id, key) <= (?, ?, ?)`,
      ),
      before: sqlite.prepare<[number]>(`DELETE FROM ${table} WHERE bucket < ?`),
    });
    this.rollupPrune = { minute: rollupPrune(TIERS.minute.table), hour: rollupPrune(TIERS.hour.table) };
    this.pruneTx = sqlite.transaction((tier: TelemetryTier, before: number, budget: number, start?: PruneCursor) =>
      tier === 'raw' ? this.pruneRaw(before, budget, start) : this.pruneRollup(tier, before, budget),
    ).immediate;
  }

  /** One aggregate of each of `keys`, in one query (see aggregateSql); a key without points gets `[]`. */
  aggregate(query: AggregateQuery, keys: readonly string[]): Map<string, Array<[number, TelemetryValue]>> {
    const series = new Map<string, Array<[number, TelemetryValue]>>();
    for (const key of keys) series.set(key, []);
    if (series.size === 0) return series;
    const pieces = splitRange(query.from, query.to, sourceTier(query.bucketMs));
    const sqlText = aggregateSql(
      query.agg,
      pieces.map((p) => p.tier),
    );
    let statement = this.aggregates.get(sqlText);
    if (statement === undefined) {
      statement = this.sqlite.prepare(sqlText);
      this.aggregates.set(sqlText, statement);
    }
    const keysJson = JSON.stringify([...series.keys()]);
    const params = pieces.flatMap((p) => [query.bucketMs, query.deviceId, keysJson, p.from, p.to]);
    if (query.agg === 'last') {
      const rows = statement.all(...params) as Array<{
        key: string;
        bucket: number;
        kind: number;
        num: number | null;
        str: string | null;
      }>;
      for (const r of rows) series.get(r.key)?.push([r.bucket, toValue(r.kind, r.num, r.str)]);
      return series;
    }
    const rows = statement.all(...params) as Array<{ key: string; bucket: number; value: number }>;
    for (const r of rows) series.get(r.key)?.push([r.bucket, r.value]);
    return series;
  }

  /** Deletes up to about `budget` rows (raw: messages) of `tier` older than `before`, in one transaction. */
  pruneTelemetry(tier: TelemetryTier, before: number, budget: number, start?: PruneCursor): PruneResult {
    return this.pruneTx(tier, before, budget, start);
  }

  /** Removes a device's rollups (its raw rows are deleted with it). */
  deleteDevice(deviceId: string): void {
    for (const tier of ROLLUPS)
      this.sqlite.prepare(`DELETE FROM ${TIERS[tier].table} WHERE device_id = ?`).run(deviceId);
  }

  /**
   * Raw messages are clustered by device, so the walk goes device by device
   * (from `latest`), deleting each one's prefix older than `before`.
   */
  private pruneRaw(before: number, budget: number, start: PruneCursor | undefined): PruneResult {
    const { nth, before: deleteBefore, through } = this.rawPrune;
    const devices = this.devicesFrom.all(start?.deviceId ?? '', DEVICES_PER_PRUNE + 1);
    let removed = 0;
    for (let i = 0; i < Math.min(devices.length, DEVICES_PER_PRUNE); i++) {
      const deviceId = devices[i].device_id;
      const left = budget - removed;
      if (left <= 0) return { removed, more: true, next: { deviceId } };
      // The time of the `left`-th oldest message to go: if there is one, delete through it and resume here.
      const last = nth.get(deviceId, before, left - 1);
      if (last === undefined) {
        removed += deleteBefore.run(deviceId, before).changes;
        continue;
      }
      removed += through.run(deviceId, last.t).changes;
      return { removed, more: true, next: { deviceId } };
    }
    const next = devices[DEVICES_PER_PRUNE];
    return next === undefined ? { removed, more: false } : { removed, more: true, next: { deviceId: next.device_id } };
  }

  private pruneRollup(tier: 'minute' | 'hour', before: number, budget: number): PruneResult {
    const { nth, through, before: deleteBefore } = this.rollupPrune[tier];
    const last = nth.get(before, budget - 1);
    if (last === undefined) return { removed: deleteBefore.run(before).changes, more: false };
    return { removed: through.run(last.bucket, last.bucket, last.device_id, last.key).changes, more: true };
  }
}
