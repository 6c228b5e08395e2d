import type BetterSqlite3 from 'better-sqlite3';
import { type Kysely, sql } from 'kysely';
import type { CommandStatus, CommandTransition, JsonObject } from '@iot/protocol';
import type { CommandPatch, CommandRecord, CommandRepository, CommandWithHistory } from '../domain/commands';
import type { Database } from './schema';

type CommandRow = Database['commands'];

const OPEN: CommandStatus[] = ['pending', 'sent', 'accepted', 'in-progress'];

function toCommand(row: CommandRow): CommandRecord {
  return {
    id: row.id,
    deviceId: row.device_id,
    name: row.name,
    params: JSON.parse(row.params) as JsonObject,
    status: row.status as CommandStatus,
    ...(row.result !== null && { result: JSON.parse(row.result) as unknown }),
    ...(row.error !== null && { error: row.error }),
    timeoutMs: row.timeout_ms,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    sentAt: row.sent_at,
    updatedAt: row.updated_at,
    createdBy: row.created_by,
    ...(row.progress !== null && { progress: row.progress }),
  };
}

async function withTransitions(db: Kysely<Database>, commands: CommandRecord[]): Promise<CommandWithHistory[]> {
  if (commands.length === 0) return [];
  const rows = await db
    .selectFrom('command_transitions')
    .selectAll()
    .where(
      'command_id',
      'in',
      commands.map((c) => c.id),
    )
    .orderBy('command_id')
    .orderBy('ts')
    .execute();
  const byCommand = new Map<string, CommandTransition[]>();
  for (const row of rows) {
    let list = byCommand.get(row.command_id);
    if (!list) byCommand.set(row.command_id, (list = []));
    list.push({ status: row.status as CommandStatus, ts: row.ts, ...(row.by !== null && { by: row.by }) });
  }
  return commands.map((c) => ({ ...c, transitions: byCommand.get(c.id) ?? [] }));
}

/** A commands row in column order. */
type CommandValues = [
  id: string,
  deviceId: string,
  name: string,
  params: string,
  status: string,
  result: string | null,
  error: string | null,
  timeoutMs: number,
  issuedAt: number,
  expiresAt: number,
  sentAt: number | null,
  updatedAt: number,
  createdBy: string,
];
/**
 * An update's values: the new status, time, result, error, sentAt, progress
 * and timeout, then the id and the status it must still have.
 */
type UpdateValues = [
  status: string,
  ts: number,
  result: string | null,
  error: string | null,
  sentAt: number | null,
  progress: number | null,
  timeoutMs: number | null,
  id: string,
  from: string,
];

/** A write waiting for the next group commit, and its caller. */
interface QueuedWrite {
  run: () => boolean | void;
  resolve: (changed: boolean | void) => void;
  reject: (error: unknown) => void;
}

/**
 * Commands on SQLite. Writes use the raw better-sqlite3 handle in synchronous
 * transactions: a kysely transaction would hold BEGIN open across awaits, and
 * the inline ingest transaction (also synchronous, on the same connection)
 * could land inside it. They begin IMMEDIATE: the writer thread commits on its own
 * connection, and a deferred transaction that read before it wrote would
 * fail with SQLITE_BUSY instead of waiting for the write lock.
 *
 * The writes made in one turn of the event loop are committed together, in
 * the order made, at the end of it: each commit writes its pages to the WAL,
 * and busy commands touch the same pages (with 200 commands in flight, one
 * transaction per write took over a third of the event loop's busy time). If
 * the group fails, each write is tried again in its own transaction, so one
 * bad write fails alone.
 */
export class SqliteCommands implements CommandRepository {
  private readonly statements;
  private queue: QueuedWrite[] = [];

  constructor(
    private readonly db: Kysely<Database>,
    sqlite: BetterSqlite3.Database,
  ) {
    const insertTransition = sqlite.prepare<[string, number, string, string | null]>(
      'INSERT INTO command_transitions (command_id, ts, status, by) VALUES (?, ?, ?, ?)',
    );
    // Positional parameters: binding by name costs about 1.5 µs more a row.
    const insertCommand = sqlite.prepare<CommandValues>(
      `INSERT INTO commands (id, device_id, name, params, status, result, error, timeout_ms, issued_at, expires_at, sent_at, updated_at, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const updateCommand = sqlite.prepare<UpdateValues>(
      `UPDATE commands SET status = ?, updated_at = ?,
         result = COALESCE(?, result), error = COALESCE(?, error), sent_at = COALESCE(?, sent_at),
         progress = COALESCE(?, progress), timeout_ms = COALESCE(?, timeout_ms)
       WHERE id = ? AND status = ?`,
    );
    this.statements = {
      insert: (values: CommandValues, t: CommandTransition) => {
        insertCommand.run(...values);
        insertTransition.run(values[0], t.ts, t.status, t.by ?? null);
      },
      update: (values: UpdateValues, t: CommandTransition | undefined): boolean => {
        if (updateCommand.run(...values).changes === 0) return false;
        if (t) insertTransition.run(values[7], t.ts, t.status, t.by ?? null);
        return true;
      },
      one: sqlite.transaction((write: QueuedWrite) => write.run()).immediate,
      group: sqlite.transaction((writes: QueuedWrite[]) => writes.map((write) => write.run())).immediate,
      deleteDevice: sqlite.transaction((deviceId: string) => {
        sqlite
          .prepare('DELETE FROM command_transitions WHERE command_id IN (SELECT id FROM commands WHERE device_id = ?)')
          .run(deviceId);
        sqlite.prepare('DELETE FROM commands WHERE device_id = ?').run(deviceId);
      }).immediate,
    };
  }

  insert(command: CommandRecord, transition: CommandTransition): Promise<void> {
    const values: CommandValues = [
      command.id,
      command.deviceId,
      command.name,
      JSON.stringify(command.params),
      command.status,
      command.result === undefined ? null : JSON.stringify(command.result),
      command.error ?? null,
      command.timeoutMs,
      command.issuedAt,
      command.expiresAt,
      command.sentAt,
      command.updatedAt,
      command.createdBy,
    ];
    return this.write(() => this.statements.insert(values, transition)).then(() => undefined);
  }

  update(
    id: string,
    from: CommandStatus,
    patch: CommandPatch,
    transition: CommandTransition | undefined,
    ts: number,
  ): Promise<boolean> {
    const values: UpdateValues = [
      patch.status,
      ts,
      patch.result === undefined ? null : JSON.stringify(patch.result),
      patch.error ?? null,
      patch.sentAt ?? null,
      patch.progress ?? null,
      patch.timeoutMs ?? null,
      id,
      from,
    ];
    return this.write(() => this.statements.update(values, transition)).then((changed) => changed === true);
  }

  /** Commits the queued writes now; synchronous, so nothing else runs on this connection meanwhile. */
  flush(): void {
    const writes = this.queue;
    if (writes.length === 0) return;
    this.queue = [];
    let results: Array<boolean | void>;
    try {
      results = this.statements.group(writes);
    } catch {
      for (const write of writes) {
        try {
          write.resolve(this.statements.one(write));
        } catch (error) {
          write.reject(error);
        }
      }
      return;
    }
    writes.forEach((write, i) => write.resolve(results[i]));
  }

  /** Queues a write for the group commit at the end of this turn of the event loop. */
  private write(run: () => boolean | void): Promise<boolean | void> {
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ run, resolve, reject });
    });
  }

  async statuses(ids: readonly string[]): Promise<Map<string, CommandStatus>> {
    const found = new Map<string, CommandStatus>();
    // In chunks: SQLite binds at most 32,766 parameters a statement.
    for (let at = 0; at < ids.length; at += 500) {
      const rows = await this.db
        .selectFrom('commands')
        .select(['id', 'status'])
        .where('id', 'in', ids.slice(at, at + 500))
        .execute();
      for (const row of rows) found.set(row.id, row.status as CommandStatus);
    }
    return found;
  }

  async get(id: string): Promise<CommandWithHistory | undefined> {
    const row = await this.db.selectFrom('commands').selectAll().where('id', '=', id).executeTakeFirst();
    return row && (await withTransitions(this.db, [toCommand(row)]))[0];
  }

  async list(deviceId: string, beforeId: string | undefined, limit: number): Promise<CommandWithHistory[]> {
    let query = this.db
      .selectFrom('commands')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('id', 'desc')
      .limit(limit);
    if (beforeId !== undefined) query = query.where('id', '<', beforeId);
    return withTransitions(this.db, (await query.execute()).map(toCommand));
  }

  async open(): Promise<CommandRecord[]> {
    const rows = await this.db.selectFrom('commands').selectAll().where('status', 'in', OPEN).orderBy('id').execute();
    return rows.map(toCommand);
  }

  async pending(deviceId: string): Promise<CommandRecord[]> {
    const rows = await this.db
      .selectFrom('commands')
      .selectAll()
      .where('device_id', '=', deviceId)
      .where('status', '=', 'pending')
      .orderBy('id')
      .execute();
    return rows.map(toCommand);
  }

  async overdue(now: number, limit: number): Promise<CommandRecord[]> {
    const rows = await this.db
      .selectFrom('commands')
      .selectAll()
      .where('status', 'in', OPEN)
      .where(
        sql<number>`CASE status WHEN 'pending' THEN expires_at ELSE COALESCE(sent_at, issued_at) + timeout_ms END`,
        '<=',
        now,
      )
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toCommand);
  }

  /**
   * With a device, its commands go too (called inside the device's delete
   * transaction). Writes still queued are committed first, so none of them
   * lands after the delete.
   */
  deleteDevice(deviceId: string): void {
    this.flush();
    this.statements.deleteDevice(deviceId);
  }
}
