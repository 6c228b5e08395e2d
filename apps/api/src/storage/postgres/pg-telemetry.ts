import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { LatestValues, TelemetryAggregation, TelemetryValue, TelemetryValues } from '@iot/protocol';
import type {
  AggregateQuery,
  HistoryQuery,
  PruneResult,
  Series,
  TelemetryRepository,
  TelemetryTier,
} from '../../domain/telemetry';
import { TelemetryKeys } from '../../domain/telemetry-keys';
import { toValue, ValueKind } from '../schema';
import { RollupBatch, splitRange, sourceTier, type UpsertParams } from '../sqlite-history';

const DAY_MS = 86_400_000;
/** Raw history gets a partition per day from this many days back to one ahead; other times go to the default one. */
const PARTITION_DAYS_BACK = 7;
const PARTITION_DAYS_AHEAD = 1;
const PARTITION_PREFIX = 'telemetry_messages_d';
/** Messages read per round trip by a raw history read, which stops once its series are full. */
const HISTORY_PAGE = 1_000;

/** One telemetry event of a batch, as the event log hands it over before its transaction. */
export interface TelemetryRow {
  /** The event's place in its batch (1, 2, …): its seq is known only inside the transaction. */
  n: number;
  deviceId: string;
  ts: number;
  /** The values' JSON, as in the event's data. */
  json: string;
  parsed: TelemetryValues;
}

type LatestRow = [deviceId: string, key: string, ts: number, kind: number, num: number | null, str: string | null];

/** JSONB holds no NUL character: the escape becomes U+FFFD (an escaped backslash before `u0000` is left alone). */
export function jsonbSafe(json: string): string {
  return json.includes('\\u0000') ? json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd') : json;
}

function textSafe(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '\ufffd') : text;
}

/**
 * Joins the per-event columns of a batch with a character JSON text never
 * holds unescaped: one string parameter, split by the server, spares pg's
 * escaping of every element of an array (an eighth of the api's busy time at full ingest).
 */
const SEPARATOR = '\x1e';
/** The element that stands for NULL in a joined text array. */
const NULL_TEXT = '\x1f';

/**
 * A text[] of a batch's strings (NULL for null): joined and split by the
 * server, or an ordinary array when a string holds the separator or is the
 * NULL marker.
 */
export function textArray(list: readonly (string | null)[]): RawBuilder<unknown> {
  // One empty string would join to '', which splits into no element.
  if (list.length === 1 || list.some((s) => s !== null && (s.includes(SEPARATOR) || s === NULL_TEXT))) {
    return sql`${list}::text[]`;
  }
  return sql`string_to_array(${list.map((s) => s ?? NULL_TEXT).join(SEPARATOR)}::text, ${SEPARATOR}, ${NULL_TEXT})`;
}

/** An array literal of numbers or booleans (NULL for null), cast by the caller: no element needs escaping. */
export function literalArray(list: readonly (number | boolean | null)[]): string {
  return `{${list.map((v) => (v === null ? 'NULL' : String(v))).join(',')}}`;
}

function tierTable(tier: 'minute' | 'hour') {
  return sql.table(tier === 'minute' ? 'telemetry_1m' : 'telemetry_1h');
}

/**
 * Telemetry on PostgreSQL: latest values, raw history in daily partitions
 * (retention drops whole days), and the per-minute and per-hour rollups,
 * kept exact as on SQLite. Rows are written inside the event log's
 * transaction (`write`), one multi-row statement per table per batch.
 */
export class PgTelemetry implements TelemetryRepository {
  readonly keys = new TelemetryKeys();
  /** Days whose partition exists (or whose rows go to the default partition). */
  private readonly days = new Set<number>();

  private constructor(private readonly db: Kysely<unknown>) {}

  static async open(db: Kysely<unknown>): Promise<PgTelemetry> {
    const telemetry = new PgTelemetry(db);
    const { rows } = await sql<{
      deviceId: string;
      key: string;
    }>`SELECT device_id AS "deviceId", key FROM latest`.execute(db);
    telemetry.keys.load(rows);
    const { rows: parts } = await sql<{ name: string }>`SELECT c.relname AS name FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'telemetry_messages'::regclass`.execute(db);
    for (const { name } of parts)
      if (name.startsWith(PARTITION_PREFIX)) telemetry.days.add(Number(name.slice(PARTITION_PREFIX.length)));
    await telemetry.ensurePartitions([]);
    return telemetry;
  }

  /**
   * Makes the partitions of today, tomorrow and the days of `times` near now,
   * outside any ingest transaction. A day whose rows already sit in the
   * default partition stays there (a partition cannot be made over them).
   */
  async ensurePartitions(times: readonly number[], now = Date.now()): Promise<void> {
    const today = Math.floor(now / DAY_MS);
    const wanted = new Set<number>();
    for (let d = today; d <= today + PARTITION_DAYS_AHEAD; d++) if (!this.days.has(d)) wanted.add(d);
    for (const ts of times) {
      const day = Math.floor(ts / DAY_MS);
      if (day >= today - PARTITION_DAYS_BACK && day <= today + PARTITION_DAYS_AHEAD && !this.days.has(day))
        wanted.add(day);
    }
    for (const day of wanted) {
      try {
        await sql`CREATE TABLE IF NOT EXISTS ${sql.table(PARTITION_PREFIX + day)} PARTITION OF telemetry_messages
          FOR VALUES FROM (${sql.lit(day * DAY_MS)}) TO (${sql.lit((day + 1) * DAY_MS)})`.execute(this.db);
      } catch (error) {
        // Another replica made it meanwhile, or its rows are in the default partition: either way rows have a home.
        const code = (error as { code?: string }).code;
        if (code !== '42P07' && code !== '23514' && code !== '42P17') throw error;
      }
      this.days.add(day);
    }
  }

  /**
   * The history rows, latest values and rollups of a batch's telemetry
   * events, as parts of the event log's one statement (see PgEventLog):
   * computed before its transaction, they read each event's seq from its
   * `numbered` (n → seq) and keep only the devices in `present`.
   */
  prepare(rows: readonly TelemetryRow[]): RawBuilder<unknown>[] {
    if (rows.length === 0) return [];
    const minutes: UpsertParams[] = [];
    const hours: UpsertParams[] = [];
    const rollups = new RollupBatch({
      minute: { run: (...params: UpsertParams) => minutes.push(params) },
      hour: { run: (...params: UpsertParams) => hours.push(params) },
    });
    const latest = new Map<string, Map<string, LatestRow>>();
    for (const { n, deviceId, ts, parsed } of rows) {
      let newest = latest.get(deviceId);
      if (newest === undefined) latest.set(deviceId, (newest = new Map()));
      for (const key in parsed) {
        const value = parsed[key];
        const kind =
          typeof value === 'number'
            ? ValueKind.Number
            : typeof value === 'boolean'
              ? ValueKind.Boolean
              : ValueKind.String;
        const num = typeof value === 'number' ? value : typeof value === 'boolean' ? (value ? 1 : 0) : null;
        const str = typeof value === 'string' ? textSafe(value) : null;
        // The place in the batch orders events as their seqs will: the statement swaps one for the other.
        rollups.add(deviceId, key, ts, n, kind, num, str);
        const row = newest.get(key);
        if (row === undefined || row[2] <= ts) newest.set(key, [deviceId, key, ts, kind, num, str]);
      }
    }
    rollups.write();
    const parts: RawBuilder<unknown>[] = [
      sql`INSERT INTO telemetry_messages (device_id, ts, seq, data)
        SELECT e.d, m.t, b.b + e.k, m.j::jsonb
        FROM unnest(${literalArray(rows.map((r) => r.n))}::int[], ${literalArray(rows.map((r) => r.ts))}::bigint[],
          ${textArray(rows.map((r) => jsonbSafe(r.json)))}) AS m(n, t, j)
        JOIN numbered AS e ON e.n = m.n CROSS JOIN base AS b`,
    ];
    const latestRows = [...latest.values()].flatMap((m) => [...m.values()]);
    const texts = (list: readonly unknown[][], i: number) => textArray(list.map((r) => r[i] as string | null));
    const numbers = (list: readonly unknown[][], i: number) => literalArray(list.map((r) => r[i] as number | null));
    parts.push(sql`INSERT INTO latest AS l (device_id, key, ts, kind, num, str)
      SELECT * FROM unnest(${texts(latestRows, 0)}, ${texts(latestRows, 1)}, ${numbers(latestRows, 2)}::bigint[],
        ${numbers(latestRows, 3)}::smallint[], ${numbers(latestRows, 4)}::float8[], ${texts(latestRows, 5)})
        AS u(d, k, t, kind, num, str)
      WHERE u.d IN (SELECT id FROM present) AND EXISTS (SELECT FROM base)
      ON CONFLICT (device_id, key) DO UPDATE SET ts = excluded.ts, kind = excluded.kind, num = excluded.num, str = excluded.str
      WHERE excluded.ts >= l.ts`);
    for (const [tier, list] of [
      ['minute', minutes],
      ['hour', hours],
    ] as const) {
      const newer = sql`(excluded.last_ts, excluded.last_seq) > (r.last_ts, r.last_seq)`;
      const last = (c: string) =>
        sql`${sql.id(c)} = CASE WHEN ${newer} THEN excluded.${sql.id(c)} ELSE r.${sql.id(c)} END`;
      // Column 9 holds the place in the batch of the bucket's last event: its seq comes from `numbered`.
      parts.push(sql`INSERT INTO ${tierTable(tier)} AS r (device_id, key, bucket, count, num_count, num_sum, num_min, num_max,
          last_ts, last_seq, last_kind, last_num, last_str)
        SELECT u.d, u.k, u.bucket, u.count, u.num_count, u.num_sum, u.num_min, u.num_max, u.last_ts, b.b + e.k,
          u.last_kind, u.last_num, u.last_str
        FROM unnest(${texts(list, 0)}, ${texts(list, 1)}, ${numbers(list, 2)}::bigint[],
          ${numbers(list, 3)}::int[], ${numbers(list, 4)}::int[], ${numbers(list, 5)}::float8[], ${numbers(list, 6)}::float8[],
          ${numbers(list, 7)}::float8[], ${numbers(list, 8)}::bigint[], ${numbers(list, 9)}::int[], ${numbers(list, 10)}::smallint[],
          ${numbers(list, 11)}::float8[], ${texts(list, 12)})
          AS u(d, k, bucket, count, num_count, num_sum, num_min, num_max, last_ts, last_n, last_kind, last_num, last_str)
        JOIN numbered AS e ON e.n = u.last_n CROSS JOIN base AS b
        ON CONFLICT (bucket, device_id, key) DO UPDATE SET count = r.count + excluded.count,
          num_count = r.num_count + excluded.num_count, num_sum = r.num_sum + excluded.num_sum,
          num_min = LEAST(r.num_min, excluded.num_min), num_max = GREATEST(r.num_max, excluded.num_max),
          ${sql.join(['last_ts', 'last_seq', 'last_kind', 'last_num', 'last_str'].map(last))}`);
    }
    return parts;
  }

  async latest(deviceIds: string[]): Promise<Map<string, LatestValues>> {
    const out = new Map<string, LatestValues>();
    if (deviceIds.length === 0) return out;
    const { rows } = await sql<{
      device_id: string;
      key: string;
      ts: number;
      kind: number;
      num: number | null;
      str: string | null;
    }>`
      SELECT device_id, key, ts, kind, num, str FROM latest WHERE device_id = ANY(${deviceIds}::text[])`.execute(
      this.db,
    );
    for (const row of rows) {
      let values = out.get(row.device_id);
      if (!values) out.set(row.device_id, (values = {}));
      values[row.key] = { ts: row.ts, value: toValue(row.kind, row.num, row.str) };
    }
    return out;
  }

  /** The device's keys, from `latest`, in byte order. */
  private async keysOf(deviceId: string): Promise<string[]> {
    const { rows } = await sql<{
      key: string;
    }>`SELECT key FROM latest WHERE device_id = ${deviceId} ORDER BY key`.execute(this.db);
    return rows.map((row) => row.key);
  }

  /**
   * Raw points per key, at most `limit` each, as SQLite answers: messages in
   * (ts, seq) order, read a page at a time until every series is full or
   * the answer has `maxPoints`.
   */
  async history(query: HistoryQuery): Promise<Series> {
    const wanted = new Map<string, Array<[number, TelemetryValue]>>();
    for (const key of query.keys ?? (await this.keysOf(query.deviceId))) if (!wanted.has(key)) wanted.set(key, []);
    const { limit, order } = query;
    const maxPoints = query.maxPoints ?? Infinity;
    let total = 0;
    let open = wanted.size;
    const dir = sql.raw(order === 'asc' ? 'ASC' : 'DESC');
    const cmp = sql.raw(order === 'asc' ? '>' : '<');
    const only = query.keys === undefined ? sql`` : sql`AND data ?| ${[...wanted.keys()]}::text[]`;
    let after: { ts: number; seq: number } | undefined;
    while (open > 0 && total < maxPoints) {
      const from = query.from === undefined ? sql`` : sql`AND ts >= ${query.from}`;
      const to = query.to === undefined ? sql`` : sql`AND ts < ${query.to}`;
      const past = after === undefined ? sql`` : sql`AND (ts, seq) ${cmp} (${after.ts}, ${after.seq})`;
      const { rows } = await sql<{ ts: number; seq: number; data: Record<string, TelemetryValue> }>`
        SELECT ts, seq, data FROM telemetry_messages WHERE device_id = ${query.deviceId} ${from} ${to} ${past} ${only}
        ORDER BY ts ${dir}, seq ${dir} LIMIT ${HISTORY_PAGE}`.execute(this.db);
      for (const { ts, data } of rows) {
        for (const [key, points] of wanted) {
          if (points.length >= limit || !Object.hasOwn(data, key)) continue;
          points.push([ts, data[key]]);
          total++;
          if (points.length === limit) open--;
        }
        if (open === 0 || total >= maxPoints) break;
      }
      if (rows.length < HISTORY_PAGE) break;
      after = rows[rows.length - 1];
    }
    return Object.fromEntries(wanted);
  }

  /** One point per non-empty bucket per key, from the finest tier that serves the bucket (see splitRange). */
  async aggregate(query: AggregateQuery): Promise<Series> {
    const series = new Map<string, Array<[number, TelemetryValue]>>();
    for (const key of query.keys ?? (await this.keysOf(query.deviceId))) series.set(key, []);
    if (series.size === 0) return {};
    const keys = [...series.keys()];
    const pieces = splitRange(query.from, query.to, sourceTier(query.bucketMs));
    if (pieces.length === 0) return Object.fromEntries(series);
    const b = query.bucketMs;
    const d = query.deviceId;
    if (query.agg === 'last') {
      const parts = pieces.map((p) =>
        p.tier === 'raw'
          ? sql`SELECT key, ts - ts % ${b}::bigint AS bucket, ts, seq, kind, num, str FROM telemetry
              WHERE device_id = ${d} AND key = ANY(${keys}::text[]) AND ts >= ${p.from} AND ts < ${p.to}`
          : sql`SELECT key, bucket - bucket % ${b}::bigint AS bucket, last_ts AS ts, last_seq AS seq, last_kind AS kind,
              last_num AS num, last_str AS str FROM ${tierTable(p.tier)}
              WHERE device_id = ${d} AND key = ANY(${keys}::text[]) AND bucket >= ${p.from} AND bucket < ${p.to}`,
      );
      const { rows } = await sql<{ key: string; bucket: number; kind: number; num: number | null; str: string | null }>`
        SELECT key, bucket, kind, num, str FROM (SELECT key, bucket, kind, num, str,
          ROW_NUMBER() OVER (PARTITION BY key, bucket ORDER BY ts DESC, seq DESC) AS rn
          FROM (${sql.join(parts, sql` UNION ALL `)}) AS parts) AS ranked
        WHERE rn = 1 ORDER BY bucket`.execute(this.db);
      for (const r of rows) series.get(r.key)?.push([r.bucket, toValue(r.kind, r.num, r.str)]);
      return Object.fromEntries(series);
    }
    const parts = pieces.map((p) =>
      p.tier === 'raw'
        ? sql`SELECT key, ts - ts % ${b}::bigint AS bucket, 1 AS count, CASE WHEN num IS NULL THEN 0 ELSE 1 END AS num_count,
            num AS num_sum, num AS num_min, num AS num_max FROM telemetry
            WHERE device_id = ${d} AND key = ANY(${keys}::text[]) AND ts >= ${p.from} AND ts < ${p.to}`
        : sql`SELECT key, bucket - bucket % ${b}::bigint AS bucket, count, num_count, num_sum, num_min, num_max
            FROM ${tierTable(p.tier)}
            WHERE device_id = ${d} AND key = ANY(${keys}::text[]) AND bucket >= ${p.from} AND bucket < ${p.to}`,
    );
    const { value, having } = COMBINE[query.agg];
    const { rows } = await sql<{ key: string; bucket: number; value: number }>`
      SELECT key, bucket, ${value} AS value FROM (${sql.join(parts, sql` UNION ALL `)}) AS parts
      GROUP BY key, bucket HAVING ${having} ORDER BY bucket`.execute(this.db);
    for (const r of rows) series.get(r.key)?.push([r.bucket, r.value]);
    return Object.fromEntries(series);
  }

  /**
   * Raw: drops one whole day older than `before` per call while there is
   * one, then deletes what is left before it (the day that straddles
   * `before`, the default partition) `budget` rows at a time. Rollups:
   * the oldest `budget` rows before `before`. No cursor is needed.
   */
  async prune(tier: TelemetryTier, before: number, budget: number): Promise<PruneResult> {
    if (tier === 'raw') {
      const whole = [...this.days].filter((day) => (day + 1) * DAY_MS <= before).sort((a, b) => a - b);
      for (const day of whole) {
        const table = sql.table(PARTITION_PREFIX + day);
        const exists = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_class
          WHERE relname = ${PARTITION_PREFIX + day}`.execute(this.db);
        this.days.delete(day);
        if (exists.rows[0].n === 0) continue;
        const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${table}`.execute(this.db);
        await sql`DROP TABLE IF EXISTS ${table}`.execute(this.db);
        return { removed: rows[0].n, more: true };
      }
      const result = await sql`DELETE FROM telemetry_messages WHERE (device_id, ts, seq) IN
        (SELECT device_id, ts, seq FROM telemetry_messages WHERE ts < ${before} LIMIT ${budget})`.execute(this.db);
      const removed = Number(result.numAffectedRows ?? 0);
      return { removed, more: removed >= budget };
    }
    const table = tierTable(tier);
    const result = await sql`DELETE FROM ${table} WHERE (bucket, device_id, key) IN
      (SELECT bucket, device_id, key FROM ${table} WHERE bucket < ${before} ORDER BY bucket, device_id, key LIMIT ${budget})`.execute(
      this.db,
    );
    const removed = Number(result.numAffectedRows ?? 0);
    return { removed, more: removed >= budget };
  }
}

/** How each aggregation combines the parts of a bucket, and when a bucket counts as empty (as on SQLite). */
const COMBINE: Record<
  Exclude<TelemetryAggregation, 'last'>,
  { value: RawBuilder<unknown>; having: RawBuilder<unknown> }
> = {
  avg: { value: sql`SUM(num_sum) / SUM(num_count)`, having: sql`SUM(num_count) > 0` },
  min: { value: sql`MIN(num_min)`, having: sql`SUM(num_count) > 0` },
  max: { value: sql`MAX(num_max)`, having: sql`SUM(num_count) > 0` },
  sum: { value: sql`SUM(num_sum)`, having: sql`SUM(num_count) > 0` },
  count: { value: sql`SUM(count)`, having: sql`SUM(count) > 0` },
};
