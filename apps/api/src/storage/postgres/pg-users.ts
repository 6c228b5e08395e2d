import { type Kysely, sql } from 'kysely';
import type { Role } from '@iot/protocol';
import type { UserRecord, UserRepository } from '../../domain/users';

interface UserRow {
  username: string;
  password_hash: string;
  role: string;
  created_at: number;
}

function toUser(row: UserRow): UserRecord {
  return { username: row.username, passwordHash: row.password_hash, role: row.role as Role, createdAt: row.created_at };
}

/** The console's users on PostgreSQL. */
export class PgUsers implements UserRepository {
  constructor(private readonly db: Kysely<unknown>) {}

  async count(): Promise<number> {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users`.execute(this.db);
    return rows[0].n;
  }

  async find(username: string): Promise<UserRecord | undefined> {
    const { rows } = await sql<UserRow>`SELECT * FROM users WHERE username = ${username}`.execute(this.db);
    return rows[0] && toUser(rows[0]);
  }

  async list(): Promise<UserRecord[]> {
    const { rows } = await sql<UserRow>`SELECT * FROM users ORDER BY username`.execute(this.db);
    return rows.map(toUser);
  }

  async create(user: UserRecord): Promise<boolean> {
    const result = await sql`INSERT INTO users (username, password_hash, role, created_at)
      VALUES (${user.username}, ${user.passwordHash}, ${user.role}, ${user.createdAt})
      ON CONFLICT (username) DO NOTHING`.execute(this.db);
    return Number(result.numAffectedRows ?? 0) > 0;
  }

  async update(username: string, patch: { passwordHash?: string; role?: Role }): Promise<boolean> {
    const result = await sql`UPDATE users SET
        password_hash = COALESCE(${patch.passwordHash ?? null}::text, password_hash),
        role = COALESCE(${patch.role ?? null}::text, role)
      WHERE username = ${username}`.execute(this.db);
    return Number(result.numAffectedRows ?? 0) > 0;
  }

  async delete(username: string): Promise<boolean> {
    const result = await sql`DELETE FROM users WHERE username = ${username}`.execute(this.db);
    return Number(result.numAffectedRows ?? 0) > 0;
  }
}
