import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import type { DeviceEventName, JsonObject, LatestValues, Role } from '@iot/protocol';
import { migrationProvider } from './migrations';
import { openSqlite } from './sqlite-connection';
import { type CommitObserver, NOT_STORED, SqliteEventWriter } from './sqlite-event-writer';
import { SqliteWriterThread } from './sqlite-writer-thread';
import { SqliteCommands } from './sqlite-commands';
import { SqliteHistory } from './sqlite-history';
import { SqliteReaderThread } from './sqlite-reader-thread';
import { SqliteReads } from './sqlite-reads';
import { TelemetryKeys } from './telemetry-keys';
import type { Database } from './schema';
import {
  type AggregateQuery,
  type CommandRecord,
  type CommandTransition,
  type CommandWithHistory,
  type DeviceListFilter,
  type DeviceStateRecord,
  type DeviceRecord,
  type EventFilter,
  type HistoryQuery,
  type NewEvent,
  type PruneCursor,
  type PruneResult,
  type Series,
  Storage,
  type StoredEvent,
  type TelemetryTier,
  type SessionRecord,
  type UserRecord,
} from './storage';

type DeviceRow = Database['devices'];

function toDevice(row: Omit<DeviceRow, 'secret_hash'>): DeviceRecord {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    labels: JSON.parse(row.labels) as Record<string, string>,
    online: row.online === 1,
    lastSeen: row.last_seen,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Batches up to this size are committed on the event loop's own connection
 * (at most about 2 ms of work), larger ones by the writer thread. A small
 * commit costs less than the round trip to the thread, and under CPU
 * contention that round trip's tail (a thread waiting to be scheduled, twice)
 * was most of the api's p99 latency at moderate rates. At high rates batches
 * grow past this and the inserts move off the event loop.
 */
export const INLINE_MAX_EVENTS = 64;

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * Latest values of up to this many (device, key) rows are read on the event
 * loop (well under a millisecond); more go to the reader thread. The key
 * counts are known in memory (TelemetryKeys), so the choice costs no query.
 */
export const INLINE_MAX_LATEST_ROWS = 2_000;

const DEVICE_COLUMNS = ['id', 'name', 'type', 'labels', 'online', 'last_seen', 'created_at', 'updated_at'] as const;

/**
 * The SQLite store (better-sqlite3, WAL). Queries go through kysely; the
 * ingest path (`append`) is one transaction of prepared statements per batch
 * (SqliteEventWriter). Large batches are committed by a writer thread on its
 * own connection, so that inserts and commits do not hold up the event loop;
 * small ones on this connection (see INLINE_MAX_EVENTS). Checkpoints run on a
 * thread of their own, and telemetry reads (history, aggregates, large latest
 * reads) on a reader thread, so a heavy query never stalls the event loop.
 */
export class SqliteStorage extends Storage {
  private readonly lastSeq: BetterSqlite3.Statement<[], { seq: number }>;
  private readonly commands: SqliteCommands;
  private readonly telemetryHistory: SqliteHistory;
  /** Telemetry reads on this connection, when there is no reader thread (in memory). */
  private readonly reads: SqliteReads;
  readonly telemetryKeys = new TelemetryKeys();

  private constructor(
    private readonly sqlite: BetterSqlite3.Database,
    private readonly db: Kysely<Database>,
    readonly epoch: string,
    /** Commits ingest batches on the event loop: on the store's connection in memory, on one of its own in a file. */
    private readonly localWriter: { sqlite: BetterSqlite3.Database; writer: SqliteEventWriter },
    /** Commits large ingest batches on its own connection, when the database is a file. */
    private readonly writerThread: SqliteWriterThread | undefined,
    /** Runs telemetry reads on its own connection, when the database is a file. */
    private readonly readerThread: SqliteReaderThread | undefined,
  ) {
    super();
    this.lastSeq = sqlite.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
    this.commands = new SqliteCommands(db, sqlite);
    this.telemetryHistory = new SqliteHistory(sqlite);
    this.reads = new SqliteReads(sqlite);
    this.telemetryKeys.load(
      sqlite.prepare<[], { device_id: string; key: string }>('SELECT device_id, key FROM latest').iterate(),
    );
  }

  /**
   * Opens (creating if needed) the database file and migrates it. Large
   * ingest batches are committed by a writer thread on its own connection,
   * and the WAL is checkpointed by another, unless `writerThread` is false or
   * the database is in memory (one connection cannot be shared across
   * threads; then every batch is committed on the store's connection).
   */
  static async open(path: string, options: { writerThread?: boolean } = {}): Promise<SqliteStorage> {
    const inMemory = path === ':memory:';
    const threads = !inMemory && options.writerThread !== false;
    if (!inMemory) mkdirSync(dirname(path), { recursive: true });
    const sqlite = openSqlite(path, { autoCheckpoint: !threads });
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
    let epochRow = await db.selectFrom('meta').select('value').where('key', '=', 'epoch').executeTakeFirst();
    if (!epochRow) {
      epochRow = { value: randomBytes(4).readUInt32BE(0).toString(36) };
      await db.insertInto('meta').values({ key: 'epoch', value: epochRow.value }).execute();
    }
    const [writerThread, readerThread] = threads
      ? await Promise.all([SqliteWriterThread.start(path), SqliteReaderThread.start(path)])
      : [undefined, undefined];
    const local = threads ? openSqlite(path, { autoCheckpoint: false, busyTimeoutMs: 0 }) : sqlite;
    const localWriter = { sqlite: local, writer: new SqliteEventWriter(local) };
    return new SqliteStorage(sqlite, db, epochRow.value, localWriter, writerThread, readerThread);
  }

  /** Tells `observer` of each committed ingest batch, on whichever connection it was committed (for metrics). */
  observeCommits(observer: CommitObserver): void {
    this.localWriter.writer.onCommit = observer;
    if (this.writerThread) this.writerThread.onCommit = observer;
  }

  async close(): Promise<void> {
    await this.readerThread?.close();
    await this.writerThread?.close();
    if (this.localWriter.sqlite !== this.sqlite) this.localWriter.sqlite.close();
    await this.db.destroy();
  }

  async ping(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }

  // users

  async countUsers(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async findUser(username: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return (
      row && {
        username: row.username,
        passwordHash: row.password_hash,
        role: row.role as Role,
        createdAt: row.created_at,
      }
    );
  }

  async listUsers(): Promise<UserRecord[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('username').execute();
    return rows.map((row) => ({
      username: row.username,
      passwordHash: row.password_hash,
      role: row.role as Role,
      createdAt: row.created_at,
    }));
  }

  async createUser(user: UserRecord): Promise<boolean> {
    const result = await this.db
      .insertInto('users')
      .values({
        username: user.username,
        password_hash: user.passwordHash,
        role: user.role,
        created_at: user.createdAt,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async updateUser(username: string, patch: { passwordHash?: string; role?: Role }): Promise<boolean> {
    const result = await this.db
      .updateTable('users')
      .set({
        ...(patch.passwordHash !== undefined && { password_hash: patch.passwordHash }),
        ...(patch.role !== undefined && { role: patch.role }),
      })
      .where('username', '=', username)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deleteUser(username: string): Promise<boolean> {
    const result = await this.db.deleteFrom('users').where('username', '=', username).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  // sessions

  async liveSessions(now: number): Promise<SessionRecord[]> {
    await this.pruneSessions(now);
    const rows = await this.db.selectFrom('sessions').selectAll().orderBy('created_at').execute();
    return rows.map((row) => ({
      id: row.id,
      username: row.username,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    }));
  }

  async insertSession(session: SessionRecord): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        id: session.id,
        username: session.username,
        created_at: session.createdAt,
        expires_at: session.expiresAt,
      })
      .execute();
  }

  async deleteSessions(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.deleteFrom('sessions').where('id', 'in', ids).execute();
  }

  async deleteSessionsOf(username: string): Promise<string[]> {
    const rows = await this.db.deleteFrom('sessions').where('username', '=', username).returning('id').execute();
    return rows.map((row) => row.id);
  }

  async pruneSessions(now: number): Promise<number> {
    const result = await this.db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // devices

  async createDevice(device: DeviceRecord, secretHash: string): Promise<boolean> {
    const result = await this.db
      .insertInto('devices')
      .values({
        id: device.id,
        name: device.name,
        type: device.type,
        labels: JSON.stringify(device.labels),
        secret_hash: secretHash,
        online: 0,
        last_seen: null,
        created_at: device.createdAt,
        updated_at: device.updatedAt,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    const row = await this.db.selectFrom('devices').select(DEVICE_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toDevice(row);
  }

  async listDevices(filter: DeviceListFilter): Promise<DeviceRecord[]> {
    let query = this.db.selectFrom('devices').select(DEVICE_COLUMNS).orderBy('id').limit(filter.limit);
    if (filter.afterId !== undefined) query = query.where('id', '>', filter.afterId);
    if (filter.type !== undefined) query = query.where('type', '=', filter.type);
    if (filter.online !== undefined) query = query.where('online', '=', filter.online ? 1 : 0);
    if (filter.q) {
      const pattern = `%${escapeLike(filter.q)}%`;
      query = query.where((eb) =>
        eb.or([
          sql<boolean>`${eb.ref('id')} LIKE ${pattern} ESCAPE '\\'`,
          sql<boolean>`${eb.ref('name')} LIKE ${pattern} ESCAPE '\\'`,
        ]),
      );
    }
    return (await query.execute()).map(toDevice);
  }

  async updateDevice(
    id: string,
    patch: { name?: string; type?: string | null; labels?: Record<string, string> },
    now: number,
  ): Promise<DeviceRecord | undefined> {
    const result = await this.db
      .updateTable('devices')
      .set({
        updated_at: now,
        ...(patch.name !== undefined && { name: patch.name }),
        ...(patch.type !== undefined && { type: patch.type }),
        ...(patch.labels !== undefined && { labels: JSON.stringify(patch.labels) }),
      })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0 ? this.getDevice(id) : undefined;
  }

  async deleteDevice(id: string): Promise<boolean> {
    // Synchronous, so that no inline ingest transaction can land inside it (see SqliteCommands);
    // events of the device still queued are not stored after it (see SqliteEventWriter).
    return this.sqlite
      .transaction(() => {
        if (this.sqlite.prepare('DELETE FROM devices WHERE id = ?').run(id).changes === 0) return false;
        this.sqlite.prepare('DELETE FROM latest WHERE device_id = ?').run(id);
        this.sqlite.prepare('DELETE FROM telemetry_messages WHERE device_id = ?').run(id);
        this.commands.deleteDevice(id);
        this.telemetryHistory.deleteDevice(id);
        this.telemetryKeys.forget(id);
        return true;
      })
      .immediate();
  }

  async getSecretHash(id: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('devices').select('secret_hash').where('id', '=', id).executeTakeFirst();
    return row?.secret_hash;
  }

  async setSecretHash(id: string, secretHash: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('devices')
      .set({ secret_hash: secretHash, updated_at: now })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async allDeviceIds(): Promise<string[]> {
    return (await this.db.selectFrom('devices').select('id').execute()).map((r) => r.id);
  }

  async markAllOffline(): Promise<void> {
    await this.db.updateTable('devices').set({ online: 0 }).where('online', '=', 1).execute();
  }

  // telemetry

  async latest(deviceIds: string[]): Promise<Map<string, LatestValues>> {
    let rows = 0;
    for (const id of deviceIds) rows += this.telemetryKeys.count(id);
    if (this.readerThread === undefined || rows <= INLINE_MAX_LATEST_ROWS) return this.reads.latest(deviceIds);
    return this.readerThread.latest(deviceIds);
  }

  async history(query: HistoryQuery): Promise<Series> {
    return this.readerThread ? this.readerThread.history(query) : this.reads.rawHistory(query);
  }

  // commands and device state: SqliteCommands holds the queries

  insertCommand(command: CommandRecord, transition: CommandTransition): Promise<void> {
    return this.commands.insert(command, transition);
  }

  updateCommand(
    id: string,
    patch: Pick<CommandRecord, 'status'> & Partial<Pick<CommandRecord, 'result' | 'error' | 'sentAt'>>,
    transition: CommandTransition,
  ): Promise<void> {
    return this.commands.update(id, patch, transition);
  }

  getCommand(id: string): Promise<CommandWithHistory | undefined> {
    return this.commands.get(id);
  }

  listCommands(deviceId: string, beforeId: string | undefined, limit: number): Promise<CommandWithHistory[]> {
    return this.commands.list(deviceId, beforeId, limit);
  }

  openCommands(): Promise<CommandRecord[]> {
    return this.commands.open();
  }

  getState(deviceId: string): Promise<DeviceStateRecord> {
    return this.commands.getState(deviceId);
  }

  saveState(deviceId: string, state: DeviceStateRecord): Promise<void> {
    return this.commands.saveState(deviceId, state);
  }

  desiredStates(): Promise<Array<{ deviceId: string; version: number; desired: JsonObject }>> {
    return this.commands.desiredStates();
  }

  async aggregate(query: AggregateQuery): Promise<Series> {
    return this.readerThread ? this.readerThread.aggregate(query) : this.reads.aggregate(query);
  }

  async pruneTelemetry(tier: TelemetryTier, before: number, budget: number, start?: PruneCursor): Promise<PruneResult> {
    if (this.writerThread) return this.writerThread.prune({ tier, before, budget, start });
    return this.telemetryHistory.pruneTelemetry(tier, before, budget, start);
  }

  // the event log

  async append(events: NewEvent[]): Promise<StoredEvent[]> {
    const seqs = await this.commit(events);
    const stored: StoredEvent[] = [];
    for (let i = 0; i < events.length; i++) {
      if (seqs[i] === NOT_STORED) continue;
      const { type, deviceId, data } = events[i];
      stored.push({ seq: seqs[i], type, deviceId, data });
    }
    return stored;
  }

  /**
   * Batches commit in the order they are given: on the event loop only while
   * the thread has none in flight. The event loop never waits for a lock (a
   * checkpoint restarting the WAL holds the write lock for a few
   * milliseconds): a batch that finds it taken goes to the thread, which waits.
   */
  private async commit(events: NewEvent[]): Promise<ArrayLike<number>> {
    const thread = this.writerThread;
    if (thread === undefined) return this.localWriter.writer.append(events);
    if (events.length <= INLINE_MAX_EVENTS && thread.idle) {
      try {
        return this.localWriter.writer.append(events);
      } catch (error) {
        if (!isBusy(error)) throw error;
      }
    }
    return thread.append(events);
  }

  async eventsAfter(seq: number, filter: EventFilter, limit: number, maxBytes = Infinity): Promise<StoredEvent[]> {
    let query = this.db
      .selectFrom('events')
      .select(['seq', 'type', 'device_id', 'data'])
      .where('seq', '>', seq)
      .orderBy('seq')
      .limit(limit);
    if (filter.deviceIds) query = query.where('device_id', 'in', [...filter.deviceIds]);
    if (filter.types) query = query.where('type', 'in', [...filter.types]);
    // Rows are stepped one at a time, so a page of large events stops at the budget instead of loading `limit` of them.
    const { sql, parameters } = query.compile();
    const rows = this.sqlite
      .prepare<unknown[], { seq: number; type: string; device_id: string; data: string }>(sql)
      .iterate(...parameters);
    const page: StoredEvent[] = [];
    let bytes = 0;
    for (const r of rows) {
      page.push({ seq: r.seq, type: r.type as DeviceEventName, deviceId: r.device_id, data: r.data });
      bytes += r.data.length;
      if (bytes >= maxBytes) break;
    }
    return page;
  }

  async eventBounds(): Promise<{ prunedThrough: number; last: number }> {
    const row = await this.db
      .selectFrom('meta')
      .select('value')
      .where('key', '=', 'events_pruned_through')
      .executeTakeFirst();
    return { prunedThrough: row ? Number(row.value) : 0, last: this.lastSeq.get()?.seq ?? 0 };
  }

  async pruneEvents(before: number, batch: number): Promise<number> {
    // Seqs are in commit order and `ts` is the commit time, so the prunable
    // events are a prefix of the log: read it, never scan the whole table.
    const head = this.sqlite
      .prepare<[number], { seq: number; ts: number }>('SELECT seq, ts FROM events ORDER BY seq LIMIT ?')
      .all(batch);
    const row = { upto: null as number | null, n: 0 };
    for (const event of head) {
      if (event.ts >= before) break;
      row.upto = event.seq;
      row.n++;
    }
    if (row.upto === null) return 0;
    const upto = row.upto;
    this.sqlite
      .transaction(() => {
        this.sqlite.prepare('DELETE FROM events WHERE seq <= ?').run(upto);
        this.sqlite
          .prepare(
            "INSERT INTO meta (key, value) VALUES ('events_pruned_through', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
          )
          .run(String(upto));
      })
      .immediate();
    return row.n;
  }
}
