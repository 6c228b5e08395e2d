/**
 * Copies the SQLite database of a DATA_DIR into an empty PostgreSQL database:
 * users and sessions, devices with their secret hashes, raw history, rollups
 * and latest values, commands with their transitions, device state, alarm
 * rules and alarms with their transitions, the event log with its seqs, the
 * epoch and the pruning mark, so devices, browsers (Last-Event-ID) and users
 * carry on where they were.
 *
 *   npm run db:copy -- --from ./data --to postgres://user:password@host:5432/iot [--batch 2000]
 *
 * `--from` defaults to DATA_DIR (else ./data), `--to` to DATABASE_URL.
 *
 * Refuses (exit code 1) when DATA_DIR holds no database, when the api runs on
 * it (a process holds the file open, or its write-ahead log is there), when
 * the database was not migrated by this version of the api, or when the
 * target already holds data. Rows go over in batches, one
 * transaction each; the row counts are compared at the end. A copy that
 * fails half way leaves a target that is not empty: drop the database, make
 * it again and run the copy again.
 */
import { existsSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { SQLITE_FILE } from '../../apps/api/src/platform/config/config';
import { migrationProvider } from '../../apps/api/src/storage/migrations';
import { pgMigrationProvider } from '../../apps/api/src/storage/postgres/pg-migrations';

/** Rows per batch (--batch), and the bytes of text a batch may hold before it is sent: memory stays bounded. */
const BATCH = 2_000;
const BATCH_BYTES = 8 * 1024 * 1024;
/** Progress is printed every this many rows of a table. */
const REPORT_EVERY = 100_000;
const DAY_MS = 86_400_000;
/** Raw history gets a daily partition for at most this many of its newest days; older rows go to the default one. */
const MAX_PARTITIONS = 3_660;
const PARTITION_PREFIX = 'telemetry_messages_d';

class Refusal extends Error {}

type Column = [name: string, pgType: 'text' | 'bigint' | 'integer' | 'smallint' | 'float8' | 'boolean' | 'jsonb'];

interface TableCopy {
  table: string;
  columns: Column[];
  /** The SELECT over SQLite, its columns in the order of `columns`, in a stable order. */
  select: string;
}

/** Tables in an order where nothing refers to a row not yet copied; `meta` last (the epoch says the copy is whole). */
const TABLES: TableCopy[] = [
  {
    table: 'users',
    columns: [
      ['username', 'text'],
      ['password_hash', 'text'],
      ['role', 'text'],
      ['created_at', 'bigint'],
      ['scope', 'text'],
    ],
    select: 'SELECT username, password_hash, role, created_at, scope FROM users ORDER BY username',
  },
  {
    table: 'sessions',
    columns: [
      ['id', 'text'],
      ['username', 'text'],
      ['created_at', 'bigint'],
      ['expires_at', 'bigint'],
    ],
    select: 'SELECT id, username, created_at, expires_at FROM sessions ORDER BY id',
  },
  {
    table: 'devices',
    columns: [
      ['id', 'text'],
      ['name', 'text'],
      ['type', 'text'],
      ['labels', 'jsonb'],
      ['secret_hash', 'text'],
      ['online', 'boolean'],
      ['last_seen', 'bigint'],
      ['created_at', 'bigint'],
      ['updated_at', 'bigint'],
    ],
    select:
      'SELECT id, name, type, labels, secret_hash, online, last_seen, created_at, updated_at FROM devices ORDER BY id',
  },
  {
    table: 'models',
    columns: [
      ['id', 'text'],
      ['version', 'integer'],
      ['document', 'jsonb'],
      ['title', 'text'],
      ['created_at', 'bigint'],
    ],
    select: 'SELECT id, version, document, title, created_at FROM models ORDER BY id, version',
  },
  {
    table: 'device_models',
    columns: [
      ['device_id', 'text'],
      ['model_id', 'text'],
      ['model_version', 'integer'],
      ['assigned_at', 'bigint'],
    ],
    select: 'SELECT device_id, model_id, model_version, assigned_at FROM device_models ORDER BY device_id',
  },
  {
    table: 'device_state',
    columns: [
      ['device_id', 'text'],
      ['reported', 'jsonb'],
      ['desired', 'jsonb'],
      ['version', 'integer'],
      ['reported_at', 'bigint'],
      ['desired_at', 'bigint'],
      ['revision', 'integer'],
    ],
    select:
      'SELECT device_id, reported, desired, version, reported_at, desired_at, revision FROM device_state ORDER BY device_id',
  },
  {
    table: 'commands',
    columns: [
      ['id', 'text'],
      ['device_id', 'text'],
      ['name', 'text'],
      ['params', 'jsonb'],
      ['status', 'text'],
      ['result', 'jsonb'],
      ['error', 'text'],
      ['timeout_ms', 'integer'],
      ['issued_at', 'bigint'],
      ['expires_at', 'bigint'],
      ['sent_at', 'bigint'],
      ['updated_at', 'bigint'],
      ['created_by', 'text'],
      ['progress', 'float8'],
    ],
    select: `SELECT id, device_id, name, params, status, result, error, timeout_ms, issued_at, expires_at, sent_at,
      updated_at, created_by, progress FROM commands ORDER BY id`,
  },
  {
    // Insertion order (rowid) becomes PostgreSQL's `n`, which orders transitions of the same millisecond.
    table: 'command_transitions',
    columns: [
      ['command_id', 'text'],
      ['ts', 'bigint'],
      ['status', 'text'],
      ['by', 'text'],
    ],
    select: 'SELECT command_id, ts, status, by FROM command_transitions ORDER BY rowid',
  },
  {
    table: 'latest',
    columns: [
      ['device_id', 'text'],
      ['key', 'text'],
      ['ts', 'bigint'],
      ['kind', 'smallint'],
      ['num', 'float8'],
      ['str', 'text'],
    ],
    select: 'SELECT device_id, key, ts, kind, num, str FROM latest ORDER BY device_id, key',
  },
  {
    table: 'telemetry_messages',
    columns: [
      ['device_id', 'text'],
      ['ts', 'bigint'],
      ['seq', 'bigint'],
      ['data', 'jsonb'],
    ],
    select: 'SELECT device_id, ts, seq, data FROM telemetry_messages ORDER BY device_id, ts, seq',
  },
  ...['telemetry_1m', 'telemetry_1h'].map((table) => ({
    table,
    columns: [
      ['device_id', 'text'],
      ['key', 'text'],
      ['bucket', 'bigint'],
      ['count', 'integer'],
      ['num_count', 'integer'],
      ['num_sum', 'float8'],
      ['num_min', 'float8'],
      ['num_max', 'float8'],
      ['last_ts', 'bigint'],
      ['last_seq', 'bigint'],
      ['last_kind', 'smallint'],
      ['last_num', 'float8'],
      ['last_str', 'text'],
    ] satisfies Column[],
    select: `SELECT device_id, key, bucket, count, num_count, num_sum, num_min, num_max, last_ts, last_seq, last_kind,
      last_num, last_str FROM ${table} ORDER BY bucket, device_id, key`,
  })),
  {
    table: 'events',
    columns: [
      ['seq', 'bigint'],
      ['device_id', 'text'],
      ['type', 'text'],
      ['data', 'text'],
      ['ts', 'bigint'],
    ],
    select: 'SELECT seq, device_id, type, data, ts FROM events ORDER BY seq',
  },
  {
    table: 'bulk_commands',
    columns: [
      ['id', 'text'],
      ['kind', 'text'],
      ['name', 'text'],
      ['created_by', 'text'],
      ['created_at', 'bigint'],
      ['target', 'text'],
      ['items', 'jsonb'],
    ],
    select: 'SELECT id, kind, name, created_by, created_at, target, items FROM bulk_commands ORDER BY id',
  },
  {
    table: 'alarm_rules',
    columns: [
      ['id', 'text'],
      ['name', 'text'],
      ['severity', 'text'],
      ['enabled', 'boolean'],
      ['target', 'jsonb'],
      ['condition', 'jsonb'],
      ['created_at', 'bigint'],
      ['updated_at', 'bigint'],
    ],
    select:
      'SELECT id, name, severity, enabled, target, condition, created_at, updated_at FROM alarm_rules ORDER BY id',
  },
  {
    table: 'alarms',
    columns: [
      ['id', 'bigint'],
      ['rule_id', 'text'],
      ['rule_name', 'text'],
      ['device_id', 'text'],
      ['severity', 'text'],
      ['status', 'text'],
      ['message', 'text'],
      ['raised_at', 'bigint'],
      ['acknowledged_at', 'bigint'],
      ['acknowledged_by', 'text'],
      ['cleared_at', 'bigint'],
      ['cleared_by', 'text'],
    ],
    select: `SELECT id, rule_id, rule_name, device_id, severity, status, message, raised_at, acknowledged_at,
      acknowledged_by, cleared_at, cleared_by FROM alarms ORDER BY id`,
  },
  {
    table: 'alarm_transitions',
    columns: [
      ['alarm_id', 'bigint'],
      ['status', 'text'],
      ['ts', 'bigint'],
      ['by', 'text'],
      ['note', 'text'],
      ['message', 'text'],
    ],
    select: 'SELECT alarm_id, status, ts, by, note, message FROM alarm_transitions ORDER BY alarm_id, status',
  },
  {
    table: 'audit_log',
    columns: [
      ['id', 'bigint'],
      ['ts', 'bigint'],
      ['actor', 'text'],
      ['action', 'text'],
      ['target', 'text'],
      ['outcome', 'text'],
      ['address', 'text'],
      ['detail', 'text'],
    ],
    select: 'SELECT id, ts, actor, action, target, outcome, address, detail FROM audit_log ORDER BY id',
  },
  {
    table: 'webhooks',
    columns: [
      ['id', 'text'],
      ['name', 'text'],
      ['url', 'text'],
      ['secret', 'text'],
      ['min_severity', 'text'],
      ['rule_ids', 'jsonb'],
      ['enabled', 'boolean'],
      ['created_by', 'text'],
      ['created_at', 'bigint'],
      ['updated_at', 'bigint'],
    ],
    select: `SELECT id, name, url, secret, min_severity, rule_ids, enabled, created_by, created_at, updated_at
      FROM webhooks ORDER BY id`,
  },
  {
    table: 'webhook_deliveries',
    columns: [
      ['id', 'text'],
      ['webhook_id', 'text'],
      ['seq', 'bigint'],
      ['event', 'text'],
      ['alarm_id', 'text'],
      ['data', 'text'],
      ['status', 'text'],
      ['attempts', 'integer'],
      ['last_status_code', 'integer'],
      ['last_error', 'text'],
      ['next_attempt_at', 'bigint'],
      ['lease_until', 'bigint'],
      ['created_at', 'bigint'],
      ['delivered_at', 'bigint'],
    ],
    select: `SELECT id, webhook_id, seq, event, alarm_id, data, status, attempts, last_status_code, last_error,
      next_attempt_at, 0, created_at, delivered_at FROM webhook_deliveries ORDER BY id`,
  },
  {
    table: 'meta',
    columns: [
      ['key', 'text'],
      ['value', 'text'],
    ],
    select: 'SELECT key, value FROM meta ORDER BY key',
  },
];

/** PostgreSQL text holds no NUL; JSONB no escaped one (as the PostgreSQL store writes them: U+FFFD). */
function pgValue(value: unknown, type: Column[1]): unknown {
  if (value === null) return null;
  if (type === 'boolean') return Number(value) !== 0;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'string') return value;
  let text = value.includes('\0') ? value.replaceAll('\0', '\ufffd') : value;
  if (type === 'jsonb' && text.includes('\\u0000')) text = text.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd');
  return text;
}

/** One multi-row INSERT of a batch: a parameter per column (an array), unnested in order. */
function insertStatement({ table, columns }: TableCopy): string {
  const names = columns.map(([name]) => `"${name}"`).join(', ');
  const arrays = columns.map(([, type], i) => `$${i + 1}::${type === 'jsonb' ? 'text' : type}[]`).join(', ');
  const values = columns.map(([name, type]) => (type === 'jsonb' ? `"${name}"::jsonb` : `"${name}"`)).join(', ');
  return `INSERT INTO "${table}" (${names})
    SELECT ${values} FROM unnest(${arrays}) WITH ORDINALITY AS t(${names}, ord) ORDER BY ord`;
}

function parseArgs(argv: string[]): { from: string; to: string; batch: number } {
  const args: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].match(/^--(from|to|batch)(?:=(.*))?$/);
    if (!name) throw new Refusal(`unknown argument ${argv[i]}`);
    args[name[1]] = name[2] ?? argv[++i] ?? '';
  }
  const from = args['from'] || process.env['DATA_DIR'] || 'data';
  const to = args['to'] || process.env['DATABASE_URL'] || '';
  if (!/^postgres(ql)?:\/\//.test(to))
    throw new Refusal('--to postgres://… (or DATABASE_URL) names the target database');
  const batch = args['batch'] === undefined ? BATCH : Number(args['batch']);
  if (!Number.isInteger(batch) || batch < 1 || batch > 10_000) throw new Refusal('--batch is 1 to 10000 rows');
  return { from: resolve(from), to, batch };
}

/** Processes (of this user, on this machine) that hold `file` open, from /proc where there is one. */
function holders(file: string): number[] {
  if (!existsSync('/proc/self/fd')) return [];
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)) {
    try {
      if (readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`) === file))
        found.push(Number(pid));
    } catch {
      // Another user's process, or one that just ended.
    }
  }
  return found;
}

/**
 * The source, in a write transaction held for the whole copy (a consistent
 * snapshot that no api can change meanwhile). Refuses when an api has it
 * open: a process holding the file, or the write-ahead log SQLite removes
 * when the last connection closes cleanly.
 */
function openSource(dataDir: string): BetterSqlite3.Database {
  const file = join(dataDir, SQLITE_FILE);
  if (!existsSync(file)) throw new Refusal(`${dataDir} holds no database (${SQLITE_FILE})`);
  const pids = holders(realpathSync(file));
  if (pids.length > 0) throw new Refusal(`${file} is open in process ${pids.join(', ')}: stop the api first`);
  if (existsSync(`${file}-wal`))
    throw new Refusal(
      `${file}-wal exists: the api runs on ${dataDir} (stop the api first) or did not stop cleanly (start and stop it once)`,
    );
  const sqlite = new BetterSqlite3(file, { fileMustExist: true });
  sqlite.defaultSafeIntegers(true);
  sqlite.pragma('busy_timeout = 0');
  try {
    sqlite.exec('BEGIN IMMEDIATE');
  } catch {
    sqlite.close();
    throw new Refusal(`${file} is being written: stop the api first`);
  }
  return sqlite;
}

async function checkSourceMigrated(sqlite: BetterSqlite3.Database): Promise<void> {
  const wanted = Object.keys(await migrationProvider.getMigrations());
  const table = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE name = 'kysely_migration'").get();
  const done = new Set(
    table ? (sqlite.prepare('SELECT name FROM kysely_migration').all() as { name: string }[]).map((r) => r.name) : [],
  );
  const missing = wanted.filter((name) => !done.has(name));
  if (missing.length > 0)
    throw new Refusal(
      `the database lacks migrations ${missing.join(', ')}: start this version of the api on it once, stop it, copy again`,
    );
}

/** Refuses unless every table the copy writes is missing or empty. */
async function checkTargetEmpty(client: pg.PoolClient): Promise<void> {
  const held: string[] = [];
  for (const { table } of TABLES) {
    const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
    if (!rows[0].exists) continue;
    const count = await client.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT 1 FROM "${table}" LIMIT 1) t`);
    if (count.rows[0].n !== '0') held.push(table);
  }
  if (held.length > 0)
    throw new Refusal(
      `the target database already holds data (${held.join(', ')}): copy into an empty database only (drop it and create it again)`,
    );
}

/** A daily partition for each day of raw history up to tomorrow (the newest MAX_PARTITIONS), so retention drops whole days. */
async function makePartitions(sqlite: BetterSqlite3.Database, client: pg.PoolClient): Promise<number> {
  const tomorrow = Math.floor(Date.now() / DAY_MS) + 1;
  const days = sqlite
    .prepare(`SELECT DISTINCT ts / ${DAY_MS} AS day FROM telemetry_messages WHERE ts >= 0 ORDER BY day DESC`)
    .pluck()
    .safeIntegers(false)
    .iterate() as IterableIterator<number>;
  let made = 0;
  for (const day of days) {
    if (day > tomorrow) continue;
    if (made === MAX_PARTITIONS) break;
    await client.query(`CREATE TABLE IF NOT EXISTS "${PARTITION_PREFIX}${day}" PARTITION OF telemetry_messages
      FOR VALUES FROM (${day * DAY_MS}) TO (${(day + 1) * DAY_MS})`);
    made++;
  }
  return made;
}

async function copyTable(
  sqlite: BetterSqlite3.Database,
  client: pg.PoolClient,
  copy: TableCopy,
  batch: number,
): Promise<number> {
  const statement = insertStatement(copy);
  const rows = sqlite.prepare(copy.select).raw(true).iterate() as IterableIterator<unknown[]>;
  let columns: unknown[][] = copy.columns.map(() => []);
  let batched = 0;
  let bytes = 0;
  let copied = 0;
  let report = REPORT_EVERY;
  const flush = async () => {
    await client.query('BEGIN');
    await client.query(statement, columns);
    await client.query('COMMIT');
    copied += batched;
    batched = 0;
    bytes = 0;
    columns = copy.columns.map(() => []);
    if (copied >= report) {
      console.log(`  ${copy.table}: ${copied} rows…`);
      report = copied + REPORT_EVERY;
    }
  };
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      const value = pgValue(row[i], copy.columns[i][1]);
      if (typeof value === 'string') bytes += value.length;
      columns[i].push(value);
    }
    if (++batched === batch || bytes >= BATCH_BYTES) await flush();
  }
  if (batched > 0) await flush();
  return copied;
}

export async function main(argv: string[]): Promise<void> {
  const { from, to, batch } = parseArgs(argv);
  const sqlite = openSource(from);
  const pool = new pg.Pool({ connectionString: to, max: 1 });
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  try {
    await checkSourceMigrated(sqlite);
    let client = await pool.connect();
    try {
      await checkTargetEmpty(client);
    } finally {
      client.release();
    }
    const { error } = await new Migrator({ db, provider: pgMigrationProvider }).migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
    client = await pool.connect();
    try {
      console.log(`copying ${join(from, SQLITE_FILE)} into PostgreSQL`);
      const partitions = await makePartitions(sqlite, client);
      console.log(`  ${partitions} daily partitions of raw history`);
      const summary: string[] = [];
      for (const copy of TABLES) {
        const copied = await copyTable(sqlite, client, copy, batch);
        const source = Number(sqlite.prepare(`SELECT count(*) FROM "${copy.table}"`).pluck().get());
        const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${copy.table}"`);
        if (copied !== source || Number(rows[0].n) !== source)
          throw new Error(`${copy.table}: ${source} rows in SQLite, ${rows[0].n} in PostgreSQL`);
        summary.push(`${copy.table} ${copied}`);
        console.log(`  ${copy.table}: ${copied} rows`);
      }
      // New events continue after the last seq ever given, even one pruned since.
      const last = Math.max(
        Number(sqlite.prepare("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'events'").pluck().get()),
        Number(sqlite.prepare('SELECT coalesce(max(seq), 0) FROM events').pluck().get()),
        Number(
          sqlite
            .prepare("SELECT coalesce(max(CAST(value AS INTEGER)), 0) FROM meta WHERE key = 'events_pruned_through'")
            .pluck()
            .get(),
        ),
      );
      if (last > 0) await client.query("SELECT setval(pg_get_serial_sequence('events', 'seq'), $1)", [last]);
      const audited = Number(sqlite.prepare('SELECT coalesce(max(id), 0) FROM audit_log').pluck().get());
      if (audited > 0) await client.query("SELECT setval(pg_get_serial_sequence('audit_log', 'id'), $1)", [audited]);
      const alarms = Number(
        sqlite.prepare("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'alarms'").pluck().get(),
      );
      if (alarms > 0) await client.query("SELECT setval(pg_get_serial_sequence('alarms', 'id'), $1)", [alarms]);
      console.log(`done: ${summary.join(', ')}; events continue after seq ${last}`);
    } finally {
      client.release();
    }
  } finally {
    await db.destroy();
    sqlite.exec('ROLLBACK');
    sqlite.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Refusal ? `db:copy refused: ${error.message}` : error);
    process.exit(1);
  });
}
