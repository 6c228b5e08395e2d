import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

/**
 * SQLite schema migrations, applied in name order at boot. Never edit one
 * that has shipped; add the next. Tables use kysely's schema builder where it
 * is portable; clustered (WITHOUT ROWID) tables and AUTOINCREMENT are SQLite
 * DDL, which the PostgreSQL store will state in its own dialect.
 */
const migrations: Record<string, Migration> = {
  '0001_init': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('users')
        .addColumn('username', 'text', (c) => c.primaryKey())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('devices')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('type', 'text')
        .addColumn('labels', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('online', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_seen', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('devices_type').on('devices').columns(['type', 'id']).execute();
      // Clustered by (device, key, time) so a history range is one index walk.
      await sql`CREATE TABLE telemetry (
        device_id TEXT NOT NULL,
        key TEXT NOT NULL,
        ts BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        kind SMALLINT NOT NULL,
        num DOUBLE PRECISION,
        str TEXT,
        PRIMARY KEY (device_id, key, ts, seq)
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE latest (
        device_id TEXT NOT NULL,
        key TEXT NOT NULL,
        ts BIGINT NOT NULL,
        kind SMALLINT NOT NULL,
        num DOUBLE PRECISION,
        str TEXT,
        PRIMARY KEY (device_id, key)
      ) WITHOUT ROWID`.execute(db);
      // AUTOINCREMENT: a seq is never reused, even after pruning the newest rows.
      // `ts` is the time the event was stored; pruning walks seq order, so no index on it.
      await sql`CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        ts BIGINT NOT NULL
      )`.execute(db);
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
