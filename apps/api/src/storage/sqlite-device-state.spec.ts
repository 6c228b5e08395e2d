import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { migrationProvider } from './migrations';
import { SqliteDatabase } from './sqlite-database';

describe('migration 0006_device_state_revision', () => {
  it('keeps the state stored before it, at revision 0, and its next save goes through once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iot-state-revision-'));
    try {
      const path = join(dir, 'iot.db');
      const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(path) }) });
      const { error } = await new Migrator({ db, provider: migrationProvider }).migrateTo('0005_sessions');
      expect(error).toBeUndefined();
      await db.destroy();
      const old = new BetterSqlite3(path);
      old
        .prepare(
          `INSERT INTO device_state (device_id, reported, desired, version, reported_at, desired_at)
           VALUES ('d1', '{"t":1}', '{"on":true}', 4, 5, 6)`,
        )
        .run();
      old.close();

      const sut = await SqliteDatabase.open(path);
      try {
        const stored = { reported: { t: 1 }, desired: { on: true }, version: 4, reportedAt: 5, desiredAt: 6 };
        expect(await sut.deviceState.get('d1')).toEqual({ state: stored, revision: 0 });
        const next = { ...stored, reported: { t: 2 }, reportedAt: 7 };
        expect(await sut.deviceState.save('d1', next, 0)).toBe(true);
        expect(await sut.deviceState.save('d1', { ...stored, version: 5 }, 0)).toBe(false);
        expect(await sut.deviceState.get('d1')).toEqual({ state: next, revision: 1 });
      } finally {
        await sut.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
