import { type Kysely, sql } from 'kysely';
import type { BulkRecord, BulkRepository } from '../../domain/bulk';
import { jsonbSafe } from './pg-telemetry';

/** Bulk commands and patches on PostgreSQL. */
export class PgBulk implements BulkRepository {
  constructor(private readonly db: Kysely<unknown>) {}

  async insert(bulk: BulkRecord): Promise<void> {
    await sql`INSERT INTO bulk_commands (id, kind, name, created_by, created_at, target, items)
      VALUES (${bulk.id}, ${bulk.kind}, ${bulk.name}, ${bulk.createdBy}, ${bulk.createdAt}, ${bulk.target},
        ${jsonbSafe(JSON.stringify(bulk.items))}::jsonb)`.execute(this.db);
  }

  async get(id: string): Promise<BulkRecord | undefined> {
    const { rows } = await sql<BulkRecord>`SELECT id, kind, name, created_by AS "createdBy", created_at AS "createdAt",
        target, items FROM bulk_commands WHERE id = ${id}`.execute(this.db);
    return rows[0];
  }
}
