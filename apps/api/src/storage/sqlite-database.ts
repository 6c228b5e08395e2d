import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import type { DatabaseHealth } from '../domain/database';
import { LocalCluster } from './local-cluster';
import { migrationProvider } from './migrations';
import type { Database } from './schema';
import { SqliteCommands } from './sqlite-commands';
import { openSqlite } from './sqlite-connection';
import { SqliteDeviceState } from './sqlite-device-state';
import { SqliteDevices } from './sqlite-devices';
import { SqliteModels } from './sqlite-models';
import { SqliteAudit } from './sqlite-audit';
import { SqliteBulk } from './sqlite-bulk';
import { SqliteAlarmRules, SqliteAlarms } from './sqlite-alarms';
import { SqliteEventLog } from './sqlite-event-log';
import { type CommitObserver, SqliteEventWriter } from './sqlite-event-writer';
import { SqliteReaderThread } from './sqlite-reader-thread';
import { SqliteSessions } from './sqlite-sessions';
import { SqliteTelemetry } from './sqlite-telemetry';
import { SqliteUsers } from './sqlite-users';
import { SqliteWebhooks } from './sqlite-webhooks';
import { SqliteWriterThread } from './sqlite-writer-thread';

/**
 * The SQLite store (better-sqlite3, WAL): one opened database and its
 * repositories, one per noun, sharing its connections. Queries go through
 * kysely; the ingest path is prepared statements (SqliteEventLog). Large
 * ingest batches are committed by a writer thread on its own connection,
 * small ones on a connection of the event loop's; checkpoints run on a
 * thread of their own, and telemetry reads (history, aggregates, large
 * latest reads) on a reader thread, so a heavy query never stalls the event
 * loop.
 */
export class SqliteDatabase implements DatabaseHealth {
  readonly users: SqliteUsers;
  readonly sessions: SqliteSessions;
  readonly devices: SqliteDevices;
  readonly telemetry: SqliteTelemetry;
  readonly commands: SqliteCommands;
  readonly deviceState: SqliteDeviceState;
  readonly models: SqliteModels;
  readonly audit: SqliteAudit;
  readonly bulk: SqliteBulk;
  readonly webhooks: SqliteWebhooks;
  readonly alarmRules: SqliteAlarmRules;
  readonly alarms: SqliteAlarms;
  readonly events: SqliteEventLog;
  /** One api process per SQLite database: nobody to tell. */
  readonly cluster = new LocalCluster();

  private constructor(
    private readonly sqlite: BetterSqlite3.Database,
    private readonly db: Kysely<Database>,
    epoch: string,
    /** Commits ingest batches on the event loop: on the store's connection in memory, on one of its own in a file. */
    private readonly localWriter: { sqlite: BetterSqlite3.Database; writer: SqliteEventWriter },
    /** Commits large ingest batches on its own connection, when the database is a file. */
    private readonly writerThread: SqliteWriterThread | undefined,
    /** Runs telemetry reads on its own connection, when the database is a file. */
    private readonly readerThread: SqliteReaderThread | undefined,
  ) {
    this.users = new SqliteUsers(db);
    this.sessions = new SqliteSessions(db);
    this.telemetry = new SqliteTelemetry(sqlite, writerThread, readerThread);
    this.commands = new SqliteCommands(db, sqlite);
    this.deviceState = new SqliteDeviceState(db, sqlite);
    this.models = new SqliteModels(sqlite);
    this.audit = new SqliteAudit(db);
    this.bulk = new SqliteBulk(db);
    this.webhooks = new SqliteWebhooks(db);
    this.alarmRules = new SqliteAlarmRules(sqlite);
    this.alarms = new SqliteAlarms(sqlite);
    // Telemetry last: it also forgets the device's keys in memory, which a failed delete must keep.
    this.devices = new SqliteDevices(db, sqlite, [
      this.commands,
      this.deviceState,
      this.models,
      this.alarms,
      this.telemetry,
    ]);
    this.events = new SqliteEventLog(db, sqlite, epoch, localWriter.writer, writerThread);
  }

  /**
   * Opens (creating if needed) the database file and migrates it. Large
   * ingest batches are committed by a writer thread on its own connection,
   * and the WAL is checkpointed by another, unless `writerThread` is false or
   * the database is in memory (one connection cannot be shared across
   * threads; then every batch is committed on the store's connection). The
   * writer and reader threads start when first needed; `cacheKiB` is each
   * connection's page cache (SQLITE_CACHE_KIB).
   */
  static async open(
    path: string,
    options: { writerThread?: boolean; cacheKiB?: number } = {},
  ): Promise<SqliteDatabase> {
    const inMemory = path === ':memory:';
    const threads = !inMemory && options.writerThread !== false;
    const { cacheKiB } = options;
    if (!inMemory) mkdirSync(dirname(path), { recursive: true });
    const sqlite = openSqlite(path, { autoCheckpoint: !threads, cacheKiB });
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
    let epochRow = await db.selectFrom('meta').select('value').where('key', '=', 'epoch').executeTakeFirst();
    if (!epochRow) {
      epochRow = { value: randomBytes(4).readUInt32BE(0).toString(36) };
      await db.insertInto('meta').values({ key: 'epoch', value: epochRow.value }).execute();
    }
    const writerThread = threads
      ? await SqliteWriterThread.start(path, undefined, { lazyWriter: true, cacheKiB })
      : undefined;
    const readerThread = threads ? SqliteReaderThread.lazy(path, { cacheKiB }) : undefined;
    const local = threads ? openSqlite(path, { autoCheckpoint: false, busyTimeoutMs: 0, cacheKiB }) : sqlite;
    const localWriter = { sqlite: local, writer: new SqliteEventWriter(local) };
    return new SqliteDatabase(sqlite, db, epochRow.value, localWriter, writerThread, readerThread);
  }

  /** Tells `observer` of each committed ingest batch, on whichever connection it was committed (for metrics). */
  observeCommits(observer: CommitObserver): void {
    this.localWriter.writer.onCommit = observer;
    if (this.writerThread) this.writerThread.onCommit = observer;
  }

  async close(): Promise<void> {
    this.commands.flush();
    await this.readerThread?.close();
    await this.writerThread?.close();
    if (this.localWriter.sqlite !== this.sqlite) this.localWriter.sqlite.close();
    await this.db.destroy();
  }

  async ping(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }
}
