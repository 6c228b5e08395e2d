import type { Kysely } from 'kysely';
import type { Role } from '@iot/protocol';
import type { UserPatch, UserRecord, UserRepository } from '../domain/users';
import type { Database } from './schema';

type UserRow = Database['users'];

function toUser(row: UserRow): UserRecord {
  return {
    username: row.username,
    passwordHash: row.password_hash,
    role: row.role as Role,
    scope: row.scope ?? null,
    createdAt: row.created_at,
  };
}

/** The console's users on SQLite. */
export class SqliteUsers implements UserRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async find(username: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return row && toUser(row);
  }

  async list(): Promise<UserRecord[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('username').execute();
    return rows.map(toUser);
  }

  async create(user: UserRecord): Promise<boolean> {
    const result = await this.db
      .insertInto('users')
      .values({
        username: user.username,
        password_hash: user.passwordHash,
        role: user.role,
        created_at: user.createdAt,
        scope: user.scope,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async update(username: string, patch: UserPatch): Promise<boolean> {
    const result = await this.db
      .updateTable('users')
      .set({
        ...(patch.passwordHash !== undefined && { password_hash: patch.passwordHash }),
        ...(patch.role !== undefined && { role: patch.role }),
        ...(patch.scope !== undefined && { scope: patch.scope }),
      })
      .where('username', '=', username)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async delete(username: string): Promise<boolean> {
    const result = await this.db.deleteFrom('users').where('username', '=', username).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
