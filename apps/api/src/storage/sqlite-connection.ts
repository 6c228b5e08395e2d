import BetterSqlite3 from 'better-sqlite3';

/**
 * Opens a connection with the settings every connection to the store uses:
 * WAL, so readers never wait for the writer; `synchronous = NORMAL`, so a
 * commit survives a process crash and fsync happens at checkpoints; and a
 * busy timeout, so the connections (the store's, the writer thread's and
 * the checkpointer's) wait for each other's locks instead of failing. The
 * event loop's ingest connection has none: it hands a batch to the writer
 * thread rather than wait (SqliteStorage.append).
 */
export function openSqlite(
  path: string,
  options: { autoCheckpoint?: boolean; busyTimeoutMs?: number } = {},
): BetterSqlite3.Database {
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  sqlite.pragma('cache_size = -65536');
  // Off where the checkpointer thread does it: a commit that crosses the
  // threshold would otherwise checkpoint (and fsync) inside the committing call.
  if (options.autoCheckpoint === false) sqlite.pragma('wal_autocheckpoint = 0');
  return sqlite;
}
