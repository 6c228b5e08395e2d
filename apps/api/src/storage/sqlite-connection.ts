import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';

/**
 * Creates the database file 0600 before SQLite does (it would make it 0644),
 * and tightens it and its -wal and -shm files if they exist wider: they hold
 * password hashes and telemetry. SQLite gives the -wal and -shm files it
 * creates the database file's mode.
 */
function privateFiles(path: string): void {
  if (path === ':memory:' || path === '') return;
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file) && (statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  }
}

/**
 * Page cache a connection may fill, KiB (SQLite's own default is 2,000). It
 * is memory taken from the C heap as pages are read and kept until the
 * connection closes, per connection: the store's, the ingest one, the
 * writer's and the reader's.
 */
export const SQLITE_CACHE_KIB = { small: 8192, throughput: 65_536 } as const;

/**
 * Opens a connection with the settings every connection to the store uses:
 * WAL, so readers never wait for the writer; `synchronous = NORMAL`, so a
 * commit survives a process crash and fsync happens at checkpoints; and a
 * busy timeout, so the connections (the store's, the writer thread's and
 * the checkpointer's) wait for each other's locks instead of failing. The
 * event loop's ingest connection has none: it hands a batch to the writer
 * thread rather than wait (SqliteEventLog.append).
 */
export function openSqlite(
  path: string,
  options: { autoCheckpoint?: boolean; busyTimeoutMs?: number; cacheKiB?: number } = {},
): BetterSqlite3.Database {
  privateFiles(path);
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  sqlite.pragma(`cache_size = -${Math.trunc(options.cacheKiB ?? SQLITE_CACHE_KIB.small)}`);
  // Off where the checkpointer thread does it: a commit that crosses the
  // threshold would otherwise checkpoint (and fsync) inside the committing call.
  if (options.autoCheckpoint === false) sqlite.pragma('wal_autocheckpoint = 0');
  return sqlite;
}
