import { type Kysely, sql } from 'kysely';
import type { Role } from '@iot/protocol';
import type { UserPatch, UserRecord, UserRepository } from '../../domain/users';

interface UserRow {
  username: string;
  password_hash: string;
  role: string;
  created_at: number;
  scope: string | null;
}

function toUser(row: UserRow): UserRecord {
  return {
    username: row.username,
    passwordHash: row.password_hash,
    role: row.role as Role,
    scope: row.scope,
    createdAt: row.created_at,
  };
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
    const result = await sql`INSERT INTO users (username, password_hash, role, created_at, scope)
      VALUES (${user.username}, ${user.passwordHash}, ${user.role}, ${user.createdAt}, ${user.scope})
      ON CONFLICT (username) DO NOTHING`.execute(this.db);
    return Number(result.numAffectedRows ?? 0) > 0;
  }

  async update(username: string, patch: UserPatch): Promise<boolean> {
    // `scope` may be set to null, so whether it is given is a parameter of its own.
    const result = await sql`UPDATE users SET
        password_hash = COALESCE(${patch.passwordHash ?? null}::text, password_hash),
        role = COALESCE(${patch.role ?? null}::text, role),
        scope = CASE WHEN ${patch.scope !== undefined}::boolean THEN ${patch.scope ?? null}::text ELSE scope END
      WHERE username = ${username}`.execute(this.db);
    return Number(result.numAffectedRows ?? 0) > 0;
  }

  async delete(username: string): Promise<boolean> {
    const result = await sql`DELETE FROM users WHERE username = ${username}`.execute(this.db);
    return Number(result.numAffectedRows ?? 0) > 0;
  }
}
