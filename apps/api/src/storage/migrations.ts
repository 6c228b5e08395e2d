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
  '0002_rollups': {
    async up(db: Kysely<unknown>) {
      // Per-minute and per-hour aggregates of `telemetry`, kept exact by ingest
      // (sqlite-history.ts): count of all values; count, sum, min, max of the
      // numeric ones (booleans as 0/1); and the newest value by (ts, seq).
      // Clustered by time, so ingest updates the current minute of every series
      // in a few adjacent pages rather than one page per series, and retention
      // deletes a prefix; the series index (changed only when a bucket starts)
      // serves history reads.
      for (const table of ['telemetry_1m', 'telemetry_1h']) {
        await sql`CREATE TABLE ${sql.table(table)} (
          device_id TEXT NOT NULL,
          key TEXT NOT NULL,
          bucket BIGINT NOT NULL,
          count INTEGER NOT NULL,
          num_count INTEGER NOT NULL,
          num_sum DOUBLE PRECISION NOT NULL,
          num_min DOUBLE PRECISION,
          num_max DOUBLE PRECISION,
          last_ts BIGINT NOT NULL,
          last_seq BIGINT NOT NULL,
          last_kind SMALLINT NOT NULL,
          last_num DOUBLE PRECISION,
          last_str TEXT,
          PRIMARY KEY (bucket, device_id, key)
        ) WITHOUT ROWID`.execute(db);
        await sql`CREATE INDEX ${sql.id(`${table}_series`)} ON ${sql.table(table)} (device_id, key, bucket)`.execute(db);
      }
      // Roll up the history stored before this migration: minutes from raw rows, hours from minutes.
      await sql`INSERT INTO telemetry_1m
        SELECT device_id, key, bucket, count, num_count, num_sum, num_min, num_max, ts, seq, kind, num, str
        FROM (
          SELECT device_id, key, ts - ts % 60000 AS bucket, ts, seq, kind, num, str,
            COUNT(*) OVER w AS count, COUNT(num) OVER w AS num_count, COALESCE(SUM(num) OVER w, 0) AS num_sum,
            MIN(num) OVER w AS num_min, MAX(num) OVER w AS num_max,
            ROW_NUMBER() OVER (PARTITION BY device_id, key, ts - ts % 60000 ORDER BY ts DESC, seq DESC) AS rn
          FROM telemetry
          WINDOW w AS (PARTITION BY device_id, key, ts - ts % 60000)
        )
        WHERE rn = 1`.execute(db);
      await sql`INSERT INTO telemetry_1h
        SELECT device_id, key, hour, count, num_count, num_sum, num_min, num_max, last_ts, last_seq, last_kind, last_num, last_str
        FROM (
          SELECT device_id, key, bucket - bucket % 3600000 AS hour, last_ts, last_seq, last_kind, last_num, last_str,
            SUM(count) OVER w AS count, SUM(num_count) OVER w AS num_count, SUM(num_sum) OVER w AS num_sum,
            MIN(num_min) OVER w AS num_min, MAX(num_max) OVER w AS num_max,
            ROW_NUMBER() OVER (PARTITION BY device_id, key, bucket - bucket % 3600000 ORDER BY last_ts DESC, last_seq DESC) AS rn
          FROM telemetry_1m
          WINDOW w AS (PARTITION BY device_id, key, bucket - bucket % 3600000)
        )
        WHERE rn = 1`.execute(db);
    },
  },
  '0003_commands': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('commands')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('error', 'text')
        .addColumn('timeout_ms', 'integer', (c) => c.notNull())
        .addColumn('issued_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('sent_at', 'bigint')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      // History per device, newest first (ids are time-sortable UUIDv7).
      await db.schema.createIndex('commands_device').on('commands').columns(['device_id', 'id']).execute();
      // Boot rebuilds timers of the commands still open.
      await db.schema.createIndex('commands_open').on('commands').column('status').where(sql.ref('status'), 'in', ['pending', 'sent', 'accepted', 'in-progress']).execute();
      await db.schema
        .createTable('command_transitions')
        .addColumn('command_id', 'text', (c) => c.notNull())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('by', 'text')
        .execute();
      await db.schema.createIndex('command_transitions_command').on('command_transitions').columns(['command_id', 'ts']).execute();
      await db.schema
        .createTable('device_state')
        .addColumn('device_id', 'text', (c) => c.primaryKey())
        .addColumn('reported', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('desired', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('reported_at', 'bigint')
        .addColumn('desired_at', 'bigint')
        .execute();
    },
  },
  '0004_telemetry_messages': {
    async up(db: Kysely<unknown>) {
      // Raw history as one row per message (its values as a JSON object)
      // instead of one per value: a third of the rows and b-tree inserts on
      // ingest for three values, and a page per device, not per series, in
      // the pages a commit dirties. Clustered by
      // (device, time), so a device's range is one index walk.
      await sql`CREATE TABLE telemetry_messages (
        device_id TEXT NOT NULL,
        ts BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (device_id, ts, seq)
      ) WITHOUT ROWID`.execute(db);
      await sql`INSERT INTO telemetry_messages (device_id, ts, seq, data)
        SELECT device_id, ts, seq, json_group_object(key,
          CASE kind WHEN 1 THEN json(CASE num WHEN 1 THEN 'true' ELSE 'false' END) WHEN 2 THEN str ELSE num END)
        FROM telemetry
        GROUP BY device_id, ts, seq`.execute(db);
      await sql`DROP TABLE telemetry`.execute(db);
      // The per-value shape the history queries read, unpacked on the fly: a
      // device's rows in the time range are found by the primary key, then
      // each row's values are listed by json_each. Numbers read as REAL, as
      // the per-value table stored them (so averages divide as floats), and
      // booleans as 1/0 of kind 1.
      await sql`CREATE VIEW telemetry AS
        SELECT message.device_id, value.key, message.ts, message.seq,
          CASE value.type WHEN 'text' THEN 2 WHEN 'true' THEN 1 WHEN 'false' THEN 1 ELSE 0 END AS kind,
          CASE WHEN value.type = 'text' THEN NULL ELSE CAST(value.value AS REAL) END AS num,
          CASE WHEN value.type = 'text' THEN value.value END AS str
        FROM telemetry_messages AS message, json_each(message.data) AS value`.execute(db);
    },
  },
  '0005_sessions': {
    async up(db: Kysely<unknown>) {
      // One row per login, so a token can be ended before it expires (logout,
      // a new password or role, a deleted user). Read into memory at boot.
      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_username').on('sessions').column('username').execute();
      await db.schema.createIndex('sessions_expires_at').on('sessions').column('expires_at').execute();
    },
  },
  '0006_device_state_revision': {
    async up(db: Kysely<unknown>) {
      // Bumped by every save, which writes only over the revision it read:
      // replicas changing the same device cannot lose each other's changes.
      // Rows already there start at 0, as does a device without a row.
      await sql`ALTER TABLE device_state ADD COLUMN revision INTEGER NOT NULL DEFAULT 0`.execute(db);
    },
  },
  '0007_models': {
    async up(db: Kysely<unknown>) {
      // The catalogue: a version, once stored, never changes.
      await sql`CREATE TABLE models (
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        document TEXT NOT NULL,
        title TEXT,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (id, version)
      ) WITHOUT ROWID`.execute(db);
      // Which model each device has; deleted with the device.
      await sql`CREATE TABLE device_models (
        device_id TEXT PRIMARY KEY,
        model_id TEXT NOT NULL,
        model_version INTEGER NOT NULL,
        assigned_at BIGINT NOT NULL
      ) WITHOUT ROWID`.execute(db);
    },
  },
  '0008_command_progress': {
    async up(db: Kysely<unknown>) {
      // How far along a long-running command is, as its device last said (percent).
      await sql`ALTER TABLE commands ADD COLUMN progress REAL`.execute(db);
    },
  },
  '0009_audit_log': {
    async up(db: Kysely<unknown>) {
      // Who did what: appended, read newest first by id, pruned by time.
      await sql`CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts BIGINT NOT NULL,
        actor TEXT,
        action TEXT NOT NULL,
        target TEXT,
        outcome TEXT NOT NULL,
        address TEXT,
        detail TEXT
      )`.execute(db);
      await sql`CREATE INDEX audit_log_ts ON audit_log (ts)`.execute(db);
    },
  },
  '0010_bulk_commands': {
    async up(db: Kysely<unknown>) {
      // A command sent to many devices: `items` is [{deviceId, commandId, error}] as JSON.
      await sql`CREATE TABLE bulk_commands (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        target TEXT NOT NULL,
        items TEXT NOT NULL
      ) WITHOUT ROWID`.execute(db);
    },
  },
  '0011_alarms': {
    async up(db: Kysely<unknown>) {
      // `target` and `condition` as JSON, in the shapes of the protocol.
      await sql`CREATE TABLE alarm_rules (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        severity TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        target TEXT NOT NULL,
        condition TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      ) WITHOUT ROWID`.execute(db);
      // No foreign key to the rule: an alarm keeps the rule's name after the rule is gone.
      await sql`CREATE TABLE alarms (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        rule_id TEXT NOT NULL,
        rule_name TEXT NOT NULL,
        device_id TEXT NOT NULL,
        severity TEXT NOT NULL,
        status TEXT NOT NULL,
        message TEXT NOT NULL,
        raised_at BIGINT NOT NULL,
        acknowledged_at BIGINT,
        acknowledged_by TEXT,
        cleared_at BIGINT,
        cleared_by TEXT
      )`.execute(db);
      // One open alarm per (rule, device), whoever raises it: replicas racing to raise land once.
      await sql`CREATE UNIQUE INDEX alarms_open ON alarms (rule_id, device_id) WHERE status <> 'cleared'`.execute(db);
      await sql`CREATE INDEX alarms_device ON alarms (device_id, id)`.execute(db);
      await sql`CREATE INDEX alarms_rule ON alarms (rule_id, id)`.execute(db);
      // Each status is entered once at most (raised, acknowledged, cleared).
      await sql`CREATE TABLE alarm_transitions (
        alarm_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        ts BIGINT NOT NULL,
        by TEXT,
        note TEXT,
        message TEXT NOT NULL,
        PRIMARY KEY (alarm_id, status)
      ) WITHOUT ROWID`.execute(db);
    },
  },
  '0012_webhooks': {
    async up(db: Kysely<unknown>) {
      // Where alarm notifications go; `rule_ids` is a JSON array or null (every rule).
      await sql`CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        min_severity TEXT,
        rule_ids TEXT,
        enabled INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      ) WITHOUT ROWID`.execute(db);
      // One row per event and webhook (the unique key makes it once across replicas); ids are time-ordered.
      await sql`CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        webhook_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        event TEXT NOT NULL,
        alarm_id TEXT,
        data TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_status_code INTEGER,
        last_error TEXT,
        next_attempt_at BIGINT,
        lease_until BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        delivered_at BIGINT,
        UNIQUE (webhook_id, seq)
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, status, id)`.execute(db);
      await sql`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
        WHERE status = 'pending'`.execute(db);
      await sql`CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at)`.execute(db);
    },
  },
  '0013_bulk_kind_model_index': {
    async up(db: Kysely<unknown>) {
      // A bulk is a command or a desired-state patch per device; a patch's item also keeps its `version`.
      await sql`ALTER TABLE bulk_commands ADD COLUMN kind TEXT NOT NULL DEFAULT 'command'`.execute(db);
      // The fleet list filters by model (`GET /devices?model=`).
      await sql`CREATE INDEX device_models_model ON device_models (model_id)`.execute(db);
    },
  },
  '0014_user_scopes': {
    async up(db: Kysely<unknown>) {
      // The devices a user is limited to: a label selector, or null for all.
      await sql`ALTER TABLE users ADD COLUMN scope TEXT`.execute(db);
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
