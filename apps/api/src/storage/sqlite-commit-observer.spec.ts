import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { telemetryEvent } from '../domain/events';
import { SqliteDatabase } from './sqlite-database';
import { INLINE_MAX_EVENTS } from './sqlite-event-log';

describe('SqliteDatabase.observeCommits', () => {
  let dir: string;
  let sut: SqliteDatabase;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iot-storage-'));
    sut = await SqliteDatabase.open(join(dir, 'iot.db'));
    const now = Date.now();
    await sut.devices.create(
      { id: 'a', name: 'a', type: null, labels: {}, online: false, lastSeen: null, createdAt: now, updatedAt: now },
      'hash',
    );
  });

  afterEach(async () => {
    await sut.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tells of each batch once, with its size and commit time, whether the event loop or the writer thread commits it', async () => {
    const seen: Array<[number, number]> = [];
    sut.observeCommits((events, seconds) => seen.push([events, seconds]));
    const batch = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) => telemetryEvent('a', from + i, { t: i }));
    // Small: on the event loop's connection; large: the writer thread's.
    await sut.events.append(batch(3, 1));
    await sut.events.append(batch(INLINE_MAX_EVENTS + 10, 100));
    expect(seen.map(([events]) => events)).toEqual([3, INLINE_MAX_EVENTS + 10]);
    for (const [, seconds] of seen) {
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThan(5);
    }
  });
});
