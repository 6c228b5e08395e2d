import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { READ_QUEUE_MAX, READER_REST_MS, ReadsBusyError, SqliteReaderThread } from './sqlite-reader-thread';
import { SqliteWorker } from './sqlite-writer-thread';
import { SqliteDatabase } from './sqlite-database';
import { telemetryEvent } from '../domain/events';

/** A reply as this test's realm sees it (a structured clone is made with the main realm's Object and Map). */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('SqliteReaderThread', () => {
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iot-reader-'));
    file = join(dir, 'iot.db');
    const store = await SqliteDatabase.open(file, { writerThread: false });
    await store.devices.create(
      { id: 'a', name: 'a', type: null, labels: {}, online: false, lastSeen: null, createdAt: 0, updatedAt: 0 },
      'hash',
    );
    await store.events.append([
      telemetryEvent('a', 1000, { t: 1, s: 'x' }),
      telemetryEvent('a', 2000, { t: 2, on: true }),
    ]);
    await store.close();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("starts a lazy reader's thread with its first read", async () => {
    const sut = SqliteReaderThread.lazy(file, { cacheKiB: 1024 });
    try {
      expect(sut.started).toBe(false);
      expect(plain(await sut.history({ deviceId: 'a', keys: ['t'], limit: 1, order: 'asc' }))).toEqual({
        t: [[1000, 1]],
      });
      expect(sut.started).toBe(true);
    } finally {
      await sut.close();
    }
  });

  it("ends a lazy reader's thread after a minute without reads, and starts another with the next read", async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const spawn = jest.spyOn(SqliteWorker.prototype, 'spawn');
    const sut = SqliteReaderThread.lazy(file, { cacheKiB: 1024 });
    const read = () => sut.history({ deviceId: 'a', keys: ['t'], limit: 1, order: 'asc' });
    try {
      await read();
      jest.advanceTimersByTime(READER_REST_MS - 1);
      await read();
      expect(spawn).toHaveBeenCalledTimes(1);
      jest.advanceTimersByTime(READER_REST_MS);
      // The thread is ending: the next read waits for it, then goes to a new one.
      expect(plain(await read())).toEqual({ t: [[1000, 1]] });
      expect(spawn).toHaveBeenCalledTimes(2);
      expect(sut.started).toBe(true);
    } finally {
      spawn.mockRestore();
      jest.useRealTimers();
      await sut.close();
    }
  });

  it('answers latest, history and aggregate reads off the event loop', async () => {
    const sut = await SqliteReaderThread.start(file);
    try {
      expect(plain([...(await sut.latest(['a', 'nobody'])).entries()])).toEqual([
        [
          'a',
          {
            t: { ts: 2000, value: 2 },
            s: { ts: 1000, value: 'x' },
            on: { ts: 2000, value: true },
          },
        ],
      ]);
      expect(plain(await sut.history({ deviceId: 'a', limit: 10, order: 'desc' }))).toEqual({
        on: [[2000, true]],
        s: [[1000, 'x']],
        t: [
          [2000, 2],
          [1000, 1],
        ],
      });
      expect(
        await sut.aggregate({ deviceId: 'a', keys: ['t'], from: 0, to: 3000, bucketMs: 3000, agg: 'sum' }),
      ).toEqual({ t: [[0, 3]] });
    } finally {
      await sut.close();
    }
  });

  it(`refuses a read past ${READ_QUEUE_MAX} in flight with a 503 error, and answers the others`, async () => {
    const sut = await SqliteReaderThread.start(file);
    try {
      const reads = Array.from({ length: READ_QUEUE_MAX }, () =>
        sut.history({ deviceId: 'a', keys: ['t'], limit: 1, order: 'asc' }),
      );
      const refused = sut.history({ deviceId: 'a', keys: ['t'], limit: 1, order: 'asc' });
      await expect(refused).rejects.toBeInstanceOf(ReadsBusyError);
      await expect(refused).rejects.toMatchObject({ code: 'unavailable' });
      for (const series of await Promise.all(reads)) expect(plain(series)).toEqual({ t: [[1000, 1]] });
      // The queue drained: reads are taken again.
      expect(plain(await sut.history({ deviceId: 'a', keys: ['t'], limit: 1, order: 'desc' }))).toEqual({
        t: [[2000, 2]],
      });
    } finally {
      await sut.close();
    }
  });

  it('stops a read that runs too long, answers it and those behind it 503, and reads again on a new thread', async () => {
    const slowDir = mkdtempSync(join(tmpdir(), 'iot-reader-slow-'));
    const slowFile = join(slowDir, 'iot.db');
    const store = await SqliteDatabase.open(slowFile, { writerThread: false });
    await store.devices.create(
      { id: 'a', name: 'a', type: null, labels: {}, online: false, lastSeen: null, createdAt: 0, updatedAt: 0 },
      'hash',
    );
    // 400,000 raw values: an aggregate of 1 ms buckets unpacks each one (about a second here).
    const values = Object.fromEntries(Array.from({ length: 1000 }, (_, k) => [`k${k}`, k]));
    await store.events.append(Array.from({ length: 400 }, (_, m) => telemetryEvent('a', 1000 + m, values)));
    await store.close();
    const sut = await SqliteReaderThread.start(slowFile, 200);
    try {
      const slow = sut.aggregate({ deviceId: 'a', from: 1000, to: 1400, bucketMs: 1, agg: 'avg' });
      const behind = sut.history({ deviceId: 'a', keys: ['k1'], limit: 1, order: 'asc' });
      await Promise.all([
        expect(slow).rejects.toThrow(/^the read ran for more than 0\.2 s and was stopped/),
        expect(behind).rejects.toThrow('a read before this one ran too long and was stopped; retry shortly'),
      ]);
      await expect(slow).rejects.toMatchObject({ code: 'unavailable' });
      expect(plain(await sut.history({ deviceId: 'a', keys: ['k1'], limit: 1, order: 'asc' }))).toEqual({
        k1: [[1000, 1]],
      });
    } finally {
      await sut.close();
      rmSync(slowDir, { recursive: true, force: true });
    }
  });
});
