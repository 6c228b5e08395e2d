import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { telemetryEvent } from '../domain/events';
import { SqliteDatabase } from './sqlite-database';

const entry = (...keys: string[]) => ({ values: Object.fromEntries(keys.map((k) => [k, 1])) });

describe('SqliteTelemetry.keys', () => {
  it('holds the keys of `latest` when the store opens again, and forgets a deleted device', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iot-keys-'));
    try {
      const path = join(dir, 'iot.db');
      let database = await SqliteDatabase.open(path, { writerThread: false });
      for (const id of ['a', 'b']) {
        await database.devices.create(
          { id, name: id, type: null, labels: {}, online: false, lastSeen: null, createdAt: 0, updatedAt: 0 },
          'hash',
        );
      }
      await database.events.append([telemetryEvent('a', 1000, { t: 1, h: 2 }), telemetryEvent('b', 1000, { t: 1 })]);
      await database.close();

      database = await SqliteDatabase.open(path, { writerThread: false });
      expect([database.telemetry.keys.count('a'), database.telemetry.keys.count('b')]).toEqual([2, 1]);
      expect(database.telemetry.keys.admit('a', [entry('x')], 2)).toBe(2);
      await database.devices.delete('a');
      expect(database.telemetry.keys.count('a')).toBe(0);
      await database.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
