import type BetterSqlite3 from 'better-sqlite3';
import type { LatestValues } from '@iot/protocol';
import type {
  AggregateQuery,
  HistoryQuery,
  PruneCursor,
  PruneResult,
  Series,
  TelemetryRepository,
  TelemetryTier,
} from '../domain/telemetry';
import { TelemetryKeys } from '../domain/telemetry-keys';
import { SqliteHistory } from './sqlite-history';
import type { SqliteReaderThread } from './sqlite-reader-thread';
import { SqliteReads } from './sqlite-reads';
import type { SqliteWriterThread } from './sqlite-writer-thread';

/**
 * Latest values of up to this many (device, key) rows are read on the event
 * loop (well under a millisecond); more go to the reader thread. The key
 * counts are known in memory (TelemetryKeys), so the choice costs no query.
 */
export const INLINE_MAX_LATEST_ROWS = 2_000;

/**
 * Telemetry on SQLite: reads (history, aggregates, large latest reads) run
 * on the reader thread when the database is a file, so a heavy query never
 * stalls the event loop; prunes run on the writer thread. Rows are written
 * with their events (SqliteEventWriter).
 */
export class SqliteTelemetry implements TelemetryRepository {
  readonly keys = new TelemetryKeys();
  private readonly telemetryHistory: SqliteHistory;
  /** Telemetry reads on the store's connection, when there is no reader thread (in memory). */
  private readonly reads: SqliteReads;

  constructor(
    private readonly sqlite: BetterSqlite3.Database,
    /** Prunes on its own connection, when the database is a file. */
    private readonly writerThread: SqliteWriterThread | undefined,
    /** Runs telemetry reads on its own connection, when the database is a file. */
    private readonly readerThread: SqliteReaderThread | undefined,
  ) {
    this.telemetryHistory = new SqliteHistory(sqlite);
    this.reads = new SqliteReads(sqlite);
    this.keys.load(
      sqlite.prepare<[], { deviceId: string; key: string }>('SELECT device_id AS deviceId, key FROM latest').iterate(),
    );
  }

  async latest(deviceIds: string[]): Promise<Map<string, LatestValues>> {
    let rows = 0;
    for (const id of deviceIds) rows += this.keys.count(id);
    if (this.readerThread === undefined || rows <= INLINE_MAX_LATEST_ROWS) return this.reads.latest(deviceIds);
    return this.readerThread.latest(deviceIds);
  }

  async history(query: HistoryQuery): Promise<Series> {
    return this.readerThread ? this.readerThread.history(query) : this.reads.rawHistory(query);
  }

  async aggregate(query: AggregateQuery): Promise<Series> {
    return this.readerThread ? this.readerThread.aggregate(query) : this.reads.aggregate(query);
  }

  async prune(tier: TelemetryTier, before: number, budget: number, start?: PruneCursor): Promise<PruneResult> {
    if (this.writerThread) return this.writerThread.prune({ tier, before, budget, start });
    return this.telemetryHistory.pruneTelemetry(tier, before, budget, start);
  }

  /** With a device, its latest values, history and rollups go too (inside the device's delete transaction). */
  deleteDevice(deviceId: string): void {
    this.sqlite.prepare('DELETE FROM latest WHERE device_id = ?').run(deviceId);
    this.sqlite.prepare('DELETE FROM telemetry_messages WHERE device_id = ?').run(deviceId);
    this.telemetryHistory.deleteDevice(deviceId);
    this.keys.forget(deviceId);
  }
}
