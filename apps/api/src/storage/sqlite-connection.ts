import BetterSqlite3 from 'better-sqlite3';

/**
 * Opens a connection with the settings every connection to the store uses:
 * WAL, so readers never wait for the writer; `synchronous = NORMAL`, so a
 * commit survives a process crash and fsync happens at checkpoints; and a
 * busy timeout, so the two connections (the store's and the writer
 * thread's) wait for each other's write lock instead of failing.
 */
export function openSqlite(path: string): BetterSqlite3.Database {
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('cache_size = -65536');
  return sqlite;
}
