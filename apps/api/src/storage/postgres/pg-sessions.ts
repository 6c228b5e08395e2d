import { type Kysely, sql } from 'kysely';
import type { SessionRecord, SessionRepository } from '../../domain/sessions';

/** The users' logins on PostgreSQL. */
export class PgSessions implements SessionRepository {
  constructor(private readonly db: Kysely<unknown>) {}

  async live(now: number): Promise<SessionRecord[]> {
    await this.prune(now);
    const { rows } = await sql<SessionRecord>`SELECT id, username, created_at AS "createdAt", expires_at AS "expiresAt"
      FROM sessions ORDER BY created_at, id`.execute(this.db);
    return rows;
  }

  async find(id: string): Promise<SessionRecord | undefined> {
    const { rows } = await sql<SessionRecord>`SELECT id, username, created_at AS "createdAt", expires_at AS "expiresAt"
      FROM sessions WHERE id = ${id}`.execute(this.db);
    return rows[0];
  }

  async insert(session: SessionRecord): Promise<void> {
    await sql`INSERT INTO sessions (id, username, created_at, expires_at)
      VALUES (${session.id}, ${session.username}, ${session.createdAt}, ${session.expiresAt})`.execute(this.db);
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await sql`DELETE FROM sessions WHERE id = ANY(${[...ids]}::text[])`.execute(this.db);
  }

  async deleteAllOf(username: string): Promise<string[]> {
    const { rows } = await sql<{ id: string }>`DELETE FROM sessions WHERE username = ${username} RETURNING id`.execute(
      this.db,
    );
    return rows.map((row) => row.id);
  }

  async prune(now: number): Promise<number> {
    const result = await sql`DELETE FROM sessions WHERE expires_at <= ${now}`.execute(this.db);
    return Number(result.numAffectedRows ?? 0);
  }
}
