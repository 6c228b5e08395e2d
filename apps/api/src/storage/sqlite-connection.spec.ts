import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite, SQLITE_CACHE_KIB } from './sqlite-connection';

describe('openSqlite', () => {
  let dir: string;

  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'iot-connection-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("gives a connection the small profile's page cache unless told another size", () => {
    const file = join(dir, 'iot.db');
    const sut = openSqlite(file);
    const other = openSqlite(file, { cacheKiB: SQLITE_CACHE_KIB.throughput });
    try {
      expect(sut.pragma('cache_size', { simple: true })).toBe(-SQLITE_CACHE_KIB.small);
      expect(other.pragma('cache_size', { simple: true })).toBe(-SQLITE_CACHE_KIB.throughput);
      expect(sut.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      sut.close();
      other.close();
    }
  });
});
