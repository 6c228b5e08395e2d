import { type Kysely, sql } from 'kysely';
import type { AuditEntry, AuditFilter, AuditRecord, AuditRepository } from '../../domain/audit';

/** The audit log on PostgreSQL. */
export class PgAudit implements AuditRepository {
  constructor(private readonly db: Kysely<unknown>) {}

  async append(entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const rows = entries.map(
      (e) => sql`(${e.ts}, ${e.actor}, ${e.action}, ${e.target}, ${e.outcome}, ${e.address}, ${e.detail})`,
    );
    await sql`INSERT INTO audit_log (ts, actor, action, target, outcome, address, detail)
      VALUES ${sql.join(rows)}`.execute(this.db);
  }

  async list(filter: AuditFilter): Promise<AuditRecord[]> {
    const where = [sql`TRUE`];
    if (filter.actor !== undefined) where.push(sql`actor = ${filter.actor}`);
    if (filter.action !== undefined) where.push(sql`action = ${filter.action}`);
    if (filter.target !== undefined) where.push(sql`target = ${filter.target}`);
    if (filter.from !== undefined) where.push(sql`ts >= ${filter.from}`);
    if (filter.to !== undefined) where.push(sql`ts < ${filter.to}`);
    if (filter.beforeId !== undefined) where.push(sql`id < ${filter.beforeId}`);
    const { rows } = await sql<AuditRecord>`SELECT id, ts, actor, action, target, outcome, address, detail
      FROM audit_log WHERE ${sql.join(where, sql` AND `)} ORDER BY id DESC LIMIT ${filter.limit}`.execute(this.db);
    return rows;
  }

  async prune(before: number): Promise<number> {
    const { numAffectedRows } = await sql`DELETE FROM audit_log WHERE ts < ${before}`.execute(this.db);
    return Number(numAffectedRows ?? 0);
  }
}
