import type BetterSqlite3 from 'better-sqlite3';
import type { LatestValues, TelemetryValue } from '@iot/protocol';
import { toValue } from './schema';
import { SqliteHistory } from './sqlite-history';
import type { AggregateQuery, HistoryQuery, Series } from '../domain/telemetry';

type LatestRow = { device_id: string; key: string; ts: number; kind: number; num: number | null; str: string | null };
type MessageRow = { ts: number; data: string };
type RangeParams = [deviceId: string, from: number, to: number];

/** Open ends of a raw history range: every stored `ts` is a safe integer. */
const NO_START = Number.MIN_SAFE_INTEGER;
const NO_END = Number.MAX_SAFE_INTEGER;

/**
 * The telemetry reads of the SQLite store, each costing about what it
 * returns: the key list comes from `latest` (one row per device and key),
 * raw history is one walk of the device's messages in the range that stops
 * once every key has its `limit`, and an aggregate is one query for all its
 * keys. Synchronous, on the connection given: the reader thread's
 * (SqliteReaderThread), or the store's own for an in-memory database.
 */
export class SqliteReads {
  private readonly history: SqliteHistory;
  private readonly keysOf: BetterSqlite3.Statement<[string], string>;
  private readonly latestOf: BetterSqlite3.Statement<[string], LatestRow>;
  /** A device's messages in a time range, in each order. */
  private readonly messages: Record<'asc' | 'desc', BetterSqlite3.Statement<RangeParams, MessageRow>>;

  constructor(sqlite: BetterSqlite3.Database) {
    this.history = new SqliteHistory(sqlite);
    this.keysOf = sqlite.prepare<[string], string>('SELECT key FROM latest WHERE device_id = ? ORDER BY key').pluck();
    this.latestOf = sqlite.prepare(
      'SELECT device_id, key, ts, kind, num, str FROM latest WHERE device_id IN (SELECT value FROM json_each(?))',
    );
    // The primary key's order: no sort, so a read that stops early has read only the messages up to there.
    const messages = (order: 'ASC' | 'DESC') =>
      sqlite.prepare<RangeParams, MessageRow>(
        'SELECT ts, data FROM telemetry_messages WHERE device_id = ? AND ts >= ? AND ts < ? ' +
          `ORDER BY ts ${order}, seq ${order}`,
      );
    this.messages = { asc: messages('ASC'), desc: messages('DESC') };
  }

  /** The device's keys, from `latest`. */
  keys(deviceId: string): string[] {
    return this.keysOf.all(deviceId);
  }

  latest(deviceIds: readonly string[]): Map<string, LatestValues> {
    const out = new Map<string, LatestValues>();
    if (deviceIds.length === 0) return out;
    for (const row of this.latestOf.iterate(JSON.stringify(deviceIds))) {
      let values = out.get(row.device_id);
      if (!values) out.set(row.device_id, (values = {}));
      // Keys are stored only after passing the key pattern, which `__proto__` does not (see parseTelemetry).
      values[row.key] = { ts: row.ts, value: toValue(row.kind, row.num, row.str) };
    }
    return out;
  }

  /**
   * Raw points per key, at most `limit` each; without `keys`, every key of the
   * device. The messages are unpacked here rather than by the `telemetry`
   * view: JSON.parse is many times faster than json_each per value.
   */
  rawHistory(query: HistoryQuery): Series {
    const wanted = new Map<string, Array<[number, TelemetryValue]>>();
    for (const key of query.keys ?? this.keys(query.deviceId)) if (!wanted.has(key)) wanted.set(key, []);
    const { limit } = query;
    const maxPoints = query.maxPoints ?? Infinity;
    let total = 0;
    let open = wanted.size;
    if (open > 0) {
      // Every key of the device is wanted when no list was given: take each value of a message;
      // else look up each wanted key in it.
      const every = query.keys === undefined;
      const rows = this.messages[query.order].iterate(query.deviceId, query.from ?? NO_START, query.to ?? NO_END);
      for (const { ts, data } of rows) {
        const values = JSON.parse(data) as Record<string, TelemetryValue>;
        if (every) {
          for (const key in values) {
            const points = wanted.get(key);
            if (points === undefined || points.length >= limit) continue;
            points.push([ts, values[key]]);
            total++;
            if (points.length === limit) open--;
          }
        } else {
          for (const [key, points] of wanted) {
            if (points.length >= limit || !Object.hasOwn(values, key)) continue;
            points.push([ts, values[key]]);
            total++;
            if (points.length === limit) open--;
          }
        }
        // Every series is full, or the answer is: the rest of the range is not read (leaving the loop ends the statement).
        if (open === 0 || total >= maxPoints) break;
      }
    }
    // Own properties whatever the key (fromEntries defines them; an assignment of `__proto__` would not).
    return Object.fromEntries(wanted);
  }

  /** One aggregate per bucket per key; without `keys`, every key of the device. */
  aggregate(query: AggregateQuery): Series {
    return Object.fromEntries(this.history.aggregate(query, query.keys ?? this.keys(query.deviceId)));
  }
}
