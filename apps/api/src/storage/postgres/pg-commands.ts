import { type Kysely, sql } from 'kysely';
import type { CommandStatus, CommandTransition, JsonObject } from '@iot/protocol';
import type { CommandPatch, CommandRecord, CommandRepository, CommandWithHistory } from '../../domain/commands';
import { jsonbSafe } from './pg-telemetry';

interface CommandRow {
  id: string;
  device_id: string;
  name: string;
  params: JsonObject;
  status: string;
  result: unknown;
  error: string | null;
  timeout_ms: number;
  issued_at: number;
  expires_at: number;
  sent_at: number | null;
  updated_at: number;
  created_by: string;
  progress: number | null;
}

function toCommand(row: CommandRow): CommandRecord {
  return {
    id: row.id,
    deviceId: row.device_id,
    name: row.name,
    params: row.params,
    status: row.status as CommandStatus,
    ...(row.result !== null && { result: row.result }),
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

/** A JSON value as a JSONB parameter (pg would send an array as a PostgreSQL array). */
function jsonb(value: unknown) {
  return sql`${value === undefined ? null : jsonbSafe(JSON.stringify(value))}::jsonb`;
}

/** Commands on PostgreSQL, each write one transaction with its transition. */
export class PgCommands implements CommandRepository {
  constructor(private readonly db: Kysely<unknown>) {}

  async insert(command: CommandRecord, transition: CommandTransition): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await sql`INSERT INTO commands (id, device_id, name, params, status, result, error, timeout_ms, issued_at, expires_at,
          sent_at, updated_at, created_by)
        VALUES (${command.id}, ${command.deviceId}, ${command.name}, ${jsonb(command.params)}, ${command.status},
          ${jsonb(command.result)}, ${command.error ?? null}, ${command.timeoutMs}, ${command.issuedAt}, ${command.expiresAt},
          ${command.sentAt}, ${command.updatedAt}, ${command.createdBy})`.execute(trx);
      await this.insertTransition(trx, command.id, transition);
    });
  }

  async update(
    id: string,
    from: CommandStatus,
    patch: CommandPatch,
    transition: CommandTransition | undefined,
    ts: number,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const { numAffectedRows } = await sql`UPDATE commands SET status = ${patch.status}, updated_at = ${ts},
          result = COALESCE(${jsonb(patch.result)}, result), error = COALESCE(${patch.error ?? null}::text, error),
          sent_at = COALESCE(${patch.sentAt ?? null}::bigint, sent_at),
          progress = COALESCE(${patch.progress ?? null}::double precision, progress),
          timeout_ms = COALESCE(${patch.timeoutMs ?? null}::integer, timeout_ms)
        WHERE id = ${id} AND status = ${from}`.execute(trx);
      if (!numAffectedRows) return false;
      if (transition) await this.insertTransition(trx, id, transition);
      return true;
    });
  }

  async statuses(ids: readonly string[]): Promise<Map<string, CommandStatus>> {
    if (ids.length === 0) return new Map();
    const { rows } = await sql<{ id: string; status: CommandStatus }>`SELECT id, status FROM commands
      WHERE id = ANY(${[...ids]}::text[])`.execute(this.db);
    return new Map(rows.map((row) => [row.id, row.status]));
  }

  async get(id: string): Promise<CommandWithHistory | undefined> {
    const { rows } = await sql<CommandRow>`SELECT * FROM commands WHERE id = ${id}`.execute(this.db);
    return rows[0] && (await this.withTransitions([toCommand(rows[0])]))[0];
  }

  async list(deviceId: string, beforeId: string | undefined, limit: number): Promise<CommandWithHistory[]> {
    const before = beforeId === undefined ? sql`` : sql`AND id < ${beforeId}`;
    const { rows } = await sql<CommandRow>`SELECT * FROM commands WHERE device_id = ${deviceId} ${before}
      ORDER BY id DESC LIMIT ${limit}`.execute(this.db);
    return this.withTransitions(rows.map(toCommand));
  }

  async open(): Promise<CommandRecord[]> {
    const { rows } = await sql<CommandRow>`SELECT * FROM commands
      WHERE status IN ('pending', 'sent', 'accepted', 'in-progress') ORDER BY id`.execute(this.db);
    return rows.map(toCommand);
  }

  async pending(deviceId: string): Promise<CommandRecord[]> {
    const { rows } = await sql<CommandRow>`SELECT * FROM commands WHERE device_id = ${deviceId} AND status = 'pending'
      ORDER BY id`.execute(this.db);
    return rows.map(toCommand);
  }

  async overdue(now: number, limit: number): Promise<CommandRecord[]> {
    const { rows } = await sql<CommandRow>`SELECT * FROM commands
      WHERE status IN ('pending', 'sent', 'accepted', 'in-progress')
        AND CASE status WHEN 'pending' THEN expires_at ELSE COALESCE(sent_at, issued_at) + timeout_ms END <= ${now}
      ORDER BY id LIMIT ${limit}`.execute(this.db);
    return rows.map(toCommand);
  }

  private async insertTransition(db: Kysely<unknown>, id: string, t: CommandTransition): Promise<void> {
    await sql`INSERT INTO command_transitions (command_id, ts, status, by) VALUES (${id}, ${t.ts}, ${t.status}, ${t.by ?? null})`.execute(
      db,
    );
  }

  private async withTransitions(commands: CommandRecord[]): Promise<CommandWithHistory[]> {
    if (commands.length === 0) return [];
    const { rows } = await sql<{ command_id: string; ts: number; status: string; by: string | null }>`
      SELECT command_id, ts, status, by FROM command_transitions WHERE command_id = ANY(${commands.map((c) => c.id)}::text[])
      ORDER BY command_id, ts, n`.execute(this.db);
    const byCommand = new Map<string, CommandTransition[]>();
    for (const row of rows) {
      let list = byCommand.get(row.command_id);
      if (!list) byCommand.set(row.command_id, (list = []));
      list.push({ status: row.status as CommandStatus, ts: row.ts, ...(row.by !== null && { by: row.by }) });
    }
    return commands.map((c) => ({ ...c, transitions: byCommand.get(c.id) ?? [] }));
  }
}
