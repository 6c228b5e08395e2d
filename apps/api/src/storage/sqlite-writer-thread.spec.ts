import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { SqliteDatabase } from './sqlite-database';
import { decodeBatch, encodeBatch } from './sqlite-thread-messages';
import { SqliteWriterThread } from './sqlite-writer-thread';
import { type NewEvent, telemetryEvent, valuesJsonOf } from '../domain/events';

describe('encodeBatch / decodeBatch', () => {
  it('carry every kind of event to the writer thread as it was queued, in order', () => {
    const events: NewEvent[] = [
      telemetryEvent('d1', 1_767_225_600_123, { temperature: 21.5, on: true, note: 'a "quoted" }, ☃ and "values":' }),
      { type: 'status', deviceId: 'd.2', ts: 5, online: false, data: '{"deviceId":"d.2","online":false}' },
      { type: 'status', deviceId: 'd_3', ts: 6, online: true, data: '{"deviceId":"d_3","online":true}' },
      { type: 'state', deviceId: 'd-4', ts: 7, data: '{"deviceId":"d-4","reported":{}}' },
      { type: 'command', deviceId: 'd5', ts: 8, data: '{"deviceId":"d5","status":"sent"}' },
      telemetryEvent('d1', 1_767_225_600_124, {}),
    ];
    expect(decodeBatch(encodeBatch(events))).toEqual(events);
    expect(decodeBatch(encodeBatch([]))).toEqual([]);
  });
});

describe('telemetryEvent', () => {
  it("is the contract's telemetry event, with its values' JSON found again in its data", () => {
    const values = { t: -1.5e-7, s: '}{"values":', b: false };
    const event = telemetryEvent('dev_1', 42, values);
    expect(JSON.parse(event.data)).toEqual({ deviceId: 'dev_1', ts: 42, values });
    expect(valuesJsonOf(event.data)).toBe(JSON.stringify(values));
  });

  it("takes the values' JSON as the device wrote it, when given", () => {
    const text = '{ "t" : 1.50, "s": "}{\\"values\\":" }';
    const event = telemetryEvent('dev_1', 42, { t: 1.5, s: '}{"values":' }, text);
    expect(JSON.parse(event.data)).toEqual({ deviceId: 'dev_1', ts: 42, values: { t: 1.5, s: '}{"values":' } });
    expect(valuesJsonOf(event.data)).toBe(text);
  });
});

/** A database file, migrated, with one device in it, in a new temporary directory. */
async function databaseWithDevice(id: string): Promise<{ dir: string; file: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'iot-writer-'));
  const file = join(dir, 'iot.db');
  const store = await SqliteDatabase.open(file, { writerThread: false });
  const now = Date.now();
  await store.devices.create(
    { id, name: id, type: null, labels: {}, online: false, lastSeen: null, createdAt: now, updatedAt: now },
    'hash',
  );
  await store.close();
  return { dir, file };
}

/** Resolves once `condition` holds, looking every few milliseconds (a thread's start or end has no event here). */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('SqliteWriterThread', () => {
  it('ends the checkpointer once nothing is committed for a while, having copied the WAL back, and starts it with the next commit of any connection', async () => {
    const { dir, file } = await databaseWithDevice('a');
    const sut = await SqliteWriterThread.start(file, undefined, { lazyWriter: true, restMs: 100, watchMs: 10 });
    const other = new BetterSqlite3(file);
    other.pragma('wal_autocheckpoint = 0');
    try {
      expect(sut.checkpointerStarted).toBe(true);
      await until(() => !sut.checkpointerStarted);
      other.prepare("UPDATE devices SET name = 'renamed' WHERE id = 'a'").run();
      await until(() => sut.checkpointerStarted);
      await until(() => !sut.checkpointerStarted);
      // The database file alone, without its WAL, has the commit: it was copied back before the thread ended.
      copyFileSync(file, join(dir, 'copy.db'));
      const copy = new BetterSqlite3(join(dir, 'copy.db'), { readonly: true });
      try {
        expect(copy.prepare("SELECT name FROM devices WHERE id = 'a'").get()).toEqual({ name: 'renamed' });
      } finally {
        copy.close();
      }
    } finally {
      other.close();
      await sut.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("starts a lazy writer's thread with its first batch", async () => {
    const { dir, file } = await databaseWithDevice('a');
    const sut = await SqliteWriterThread.start(file, undefined, { lazyWriter: true, cacheKiB: 1024 });
    try {
      expect(sut.writerStarted).toBe(false);
      expect(Array.from(await sut.append([telemetryEvent('a', 1, { t: 1 })]))).toEqual([1]);
      expect(sut.writerStarted).toBe(true);
    } finally {
      await sut.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses the batches posted behind one that failed, and takes them again once the failure is known', async () => {
    const { dir, file } = await databaseWithDevice('a');
    const sut = await SqliteWriterThread.start(file);
    try {
      // events.data is NOT NULL: this batch fails in its transaction.
      const broken: NewEvent = { type: 'status', deviceId: 'a', ts: 1, online: true, data: null as unknown as string };
      const failed = sut.append([telemetryEvent('a', 1, { t: 1 }), broken]);
      const behind = sut.append([telemetryEvent('a', 2, { t: 2 })]);
      await expect(failed).rejects.toThrow(/NOT NULL/);
      await expect(behind).rejects.toThrow('not stored: a batch before it failed');
      expect(Array.from(await sut.append([telemetryEvent('a', 2, { t: 2 })]))).toEqual([1]);
    } finally {
      await sut.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restarts a WAL that its checkpoints never catch up with, between batches, and loses nothing', async () => {
    const { dir, file } = await databaseWithDevice('a');
    // A restart is asked for past 64 pages, and batches come back to back, so no checkpoint reaches the WAL's end.
    const sut = await SqliteWriterThread.start(file, 64);
    try {
      let sent = 0;
      const deadline = Date.now() + 20_000;
      while (sut.walRestarts === 0 && Date.now() < deadline) {
        const seqs = await sut.append(Array.from({ length: 200 }, (_, i) => telemetryEvent('a', sent + i, { t: i })));
        expect(seqs[0]).toBe(sent + 1);
        sent += seqs.length;
      }
      expect(sut.walRestarts).toBeGreaterThan(0);
      const last = await sut.append([telemetryEvent('a', sent, { t: 0 })]);
      expect(last[0]).toBe(sent + 1);
    } finally {
      await sut.close();
    }
    const db = new BetterSqlite3(file, { readonly: true });
    try {
      const { n, max } = db.prepare('SELECT COUNT(*) AS n, MAX(seq) AS max FROM events').get() as {
        n: number;
        max: number;
      };
      expect(n).toBe(max);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
