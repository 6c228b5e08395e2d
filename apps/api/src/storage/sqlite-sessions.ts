import type { Kysely } from 'kysely';
import type { SessionRecord, SessionRepository } from '../domain/sessions';
import type { Database } from './schema';

/** The users' logins on SQLite. */
export class SqliteSessions implements SessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async live(now: number): Promise<SessionRecord[]> {
    await this.prune(now);
    const rows = await this.db.selectFrom('sessions').selectAll().orderBy('created_at').execute();
    return rows.map((row) => ({
      id: row.id,
      username: row.username,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    }));
  }

  async find(id: string): Promise<SessionRecord | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return row && { id: row.id, username: row.username, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  async insert(session: SessionRecord): Promise<void> {
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

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.deleteFrom('sessions').where('id', 'in', ids).execute();
  }

  async deleteAllOf(username: string): Promise<string[]> {
    const rows = await this.db.deleteFrom('sessions').where('username', '=', username).returning('id').execute();
    return rows.map((row) => row.id);
  }

  async prune(now: number): Promise<number> {
    const result = await this.db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
