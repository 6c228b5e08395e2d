import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TelemetryRetention } from '../src/core/telemetry/telemetry-retention.service';
import { type NewEvent, telemetryEvent } from '../src/domain/events';
import { type AppConfig, loadConfig } from '../src/platform/config/config';
import { SqliteDatabase } from '../src/storage/sqlite-database';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 1);

function telemetry(deviceId: string, ts: number, values: Record<string, number>): NewEvent {
  return telemetryEvent(deviceId, ts, values);
}

describe('TelemetryRetention', () => {
  let database: SqliteDatabase;

  beforeEach(async () => {
    database = await SqliteDatabase.open(':memory:');
    for (const id of ['a', 'b']) {
      await database.devices.create(
        { id, name: id, type: null, labels: {}, online: false, lastSeen: null, createdAt: 0, updatedAt: 0 },
        'h',
      );
    }
    // Ten days of a point every 10 minutes on two devices and three keys.
    const events: NewEvent[] = [];
    for (let ts = NOW - 10 * DAY; ts < NOW; ts += 600_000) {
      events.push(telemetry('a', ts, { x: 1, y: 2 }), telemetry('b', ts, { x: 3 }));
    }
    await database.events.append(events);
  });

  afterEach(() => database.close());

  const sut = (telemetryRetentionMs: number, rollupRetentionMs: number) =>
    new TelemetryRetention({ telemetryRetentionMs, rollupRetentionMs } as AppConfig, database.telemetry);

  const pointsPerDay = 144;
  // Raw history counts messages (one per device and time), the rollups count series (three).
  const messagesPerDay = pointsPerDay * 2;

  it('removes raw rows past TELEMETRY_RETENTION and rollups past ROLLUP_RETENTION, and nothing newer', async () => {
    expect(await sut(3 * DAY, 7 * DAY).runOnce(NOW)).toEqual({
      raw: 7 * messagesPerDay,
      minute: 3 * pointsPerDay * 3,
      hour: 3 * 24 * 3,
    });
    const raw = await database.telemetry.history({ deviceId: 'a', keys: ['x'], limit: 100_000, order: 'asc' });
    expect(raw['x']).toHaveLength(3 * pointsPerDay);
    expect(raw['x'][0][0]).toBe(NOW - 3 * DAY);
    // Rollups answer for days 4 to 7 back, not beyond.
    const days = await database.telemetry.aggregate({ deviceId: 'b', from: 0, to: NOW, bucketMs: DAY, agg: 'count' });
    expect(days['x']).toEqual(Array.from({ length: 7 }, (_, i) => [NOW - (7 - i) * DAY, pointsPerDay]));
    expect(await sut(3 * DAY, 7 * DAY).runOnce(NOW)).toEqual({ raw: 0, minute: 0, hour: 0 });
  });

  it('keeps everything with both set to 0, and runs no timer', async () => {
    const job = sut(0, 0);
    expect(await job.runOnce(NOW)).toEqual({ raw: 0, minute: 0, hour: 0 });
    job.onApplicationBootstrap();
    expect((job as unknown as { timer: unknown }).timer).toBeUndefined();
  });

  it('runs one pass at a time', async () => {
    const job = sut(DAY, 0);
    const [first, second] = await Promise.all([job.runOnce(NOW), job.runOnce(NOW)]);
    expect(second).toBe(first);
    expect(first.raw).toBe(9 * messagesPerDay);
  });

  it('stops between batches at shutdown and goes on where it stopped next time', async () => {
    const job = sut(DAY, 0);
    const pass = job.runOnce(NOW);
    await job.onApplicationShutdown();
    const partial = (await pass).raw;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(9 * messagesPerDay);
    expect((await sut(DAY, 0).runOnce(NOW)).raw).toBe(9 * messagesPerDay - partial);
  });
});

describe('TELEMETRY_RETENTION and ROLLUP_RETENTION', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iot-retention-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keep everything by default', () => {
    expect(loadConfig({ DATA_DIR: dir })).toMatchObject({ telemetryRetentionMs: 0, rollupRetentionMs: 0 });
  });

  it.each<[string, string, number, number]>([
    ['30', '0', 30 * DAY, 0],
    ['30d', '365', 30 * DAY, 365 * DAY],
    ['36h', '36h', 36 * 3_600_000, 36 * 3_600_000],
    ['1h', '2d', 3_600_000, 2 * DAY],
    ['0', '', 0, 0],
  ])('read TELEMETRY_RETENTION=%p, ROLLUP_RETENTION=%p', (raw, rollups, rawMs, rollupMs) => {
    expect(loadConfig({ DATA_DIR: dir, TELEMETRY_RETENTION: raw, ROLLUP_RETENTION: rollups })).toMatchObject({
      telemetryRetentionMs: rawMs,
      rollupRetentionMs: rollupMs,
    });
  });

  it.each<[Record<string, string>, RegExp]>([
    [{ TELEMETRY_RETENTION: 'forever' }, /- TELEMETRY_RETENTION must be 0 \(keep forever\), a number of days/],
    [{ TELEMETRY_RETENTION: '30m' }, /at least 1h/],
    [{ TELEMETRY_RETENTION: '-1' }, /TELEMETRY_RETENTION/],
    [{ ROLLUP_RETENTION: '1.5d' }, /- ROLLUP_RETENTION must be 0 \(keep forever\), a number of days/],
    [{ ROLLUP_RETENTION: '30' }, /ROLLUP_RETENTION must be 0 \(keep forever\) or at least TELEMETRY_RETENTION/],
    [{ TELEMETRY_RETENTION: '30', ROLLUP_RETENTION: '7' }, /at least TELEMETRY_RETENTION/],
  ])('refuse %j', (env, message) => {
    expect(() => loadConfig({ DATA_DIR: dir, ...env })).toThrow(message);
  });
});
