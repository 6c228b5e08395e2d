import type { Kysely } from 'kysely';
import type { AuditEntry, AuditFilter, AuditOutcome, AuditRecord, AuditRepository } from '../domain/audit';
import type { Database } from './schema';

/** The audit log on SQLite. */
export class SqliteAudit implements AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async append(entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.db.insertInto('audit_log').values(entries).execute();
  }

  async list(filter: AuditFilter): Promise<AuditRecord[]> {
    let query = this.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(filter.limit);
    if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.target !== undefined) query = query.where('target', '=', filter.target);
    if (filter.from !== undefined) query = query.where('ts', '>=', filter.from);
    if (filter.to !== undefined) query = query.where('ts', '<', filter.to);
    if (filter.beforeId !== undefined) query = query.where('id', '<', filter.beforeId);
    const rows = await query.execute();
    return rows.map((row) => ({ ...row, outcome: row.outcome as AuditOutcome }));
  }

  async prune(before: number): Promise<number> {
    const result = await this.db.deleteFrom('audit_log').where('ts', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
