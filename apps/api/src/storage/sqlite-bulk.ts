import type { Kysely } from 'kysely';
import type { BulkItem, BulkKind, BulkRecord, BulkRepository } from '../domain/bulk';
import type { Database } from './schema';

/** Bulk commands and patches on SQLite. */
export class SqliteBulk implements BulkRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(bulk: BulkRecord): Promise<void> {
    await this.db
      .insertInto('bulk_commands')
      .values({
        id: bulk.id,
        kind: bulk.kind,
        name: bulk.name,
        created_by: bulk.createdBy,
        created_at: bulk.createdAt,
        target: bulk.target,
        items: JSON.stringify(bulk.items),
      })
      .execute();
  }

  async get(id: string): Promise<BulkRecord | undefined> {
    const row = await this.db.selectFrom('bulk_commands').selectAll().where('id', '=', id).executeTakeFirst();
    return (
      row && {
        id: row.id,
        kind: row.kind as BulkKind,
        name: row.name,
        createdBy: row.created_by,
        createdAt: row.created_at,
        target: row.target,
        items: JSON.parse(row.items) as BulkItem[],
      }
    );
  }
}
