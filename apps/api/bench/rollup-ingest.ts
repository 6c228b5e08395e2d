/**
 * What keeping the per-minute and per-hour rollups costs ingest.
 *
 *   SWC_NODE_PROJECT=apps/api/bench/tsconfig.json node -r @swc-node/register apps/api/bench/rollup-ingest.ts
 *
 * Times `append` (one transaction per batch, as the EventLog calls it) on a
 * SQLite file with the rollups kept and, for comparison, with the rollup
 * writer swapped for one that does nothing (this script only). Two shapes of
 * batch, 10 keys an event:
 * - device: one device's backlog, 1000 entries 1 s apart (rollups fold 60 values into one row);
 * - fleet: 1000 devices, one event each (every value is its own (device, key, minute) group,
 *   the worst case: two upserts per value).
 * Rounds alternate between the two modes so drift and noise hit both alike.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteDatabase } from '../src/storage/sqlite-database';
import { type NewEvent, telemetryEvent } from '../src/domain/events';

const DEVICES = 1000;
const KEYS = 10;
const ROUNDS = 9;
const BATCHES_PER_ROUND = 10;

type Shape = 'device' | 'fleet';

function batch(shape: Shape, ts: number, round: number): NewEvent[] {
  return Array.from({ length: 1000 }, (_, i) => {
    const deviceId = shape === 'fleet' ? `d${i}` : `d${round % DEVICES}`;
    const t = shape === 'fleet' ? ts : ts + i * 1000;
    const values: Record<string, number> = {};
    for (let k = 0; k < KEYS; k++) values[`k${k}`] = Math.round(Math.random() * 1000) / 10;
    return telemetryEvent(deviceId, t, values);
  });
}

async function measure(shape: Shape): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'iot-rollup-bench-'));
  // On this thread, so the script can swap the rollup writer (and time the same work the writer thread does).
  const database = await SqliteDatabase.open(join(dir, 'iot.db'), { writerThread: false });
  for (let d = 0; d < DEVICES; d++) {
    await database.devices.create(
      { id: `d${d}`, name: 'd', type: null, labels: {}, online: false, lastSeen: null, createdAt: 0, updatedAt: 0 },
      'x',
    );
  }
  // Reach into the store to switch the rollup writer off; production code has no such switch.
  const writer = (database as unknown as { localWriter: { writer: { rollupBatch: () => unknown } } }).localWriter
    .writer;
  const keep = writer.rollupBatch.bind(writer);
  const skip = () => ({ add: () => undefined, write: () => undefined });
  let ts = Date.UTC(2026, 0, 1);
  const step = shape === 'fleet' ? 1000 : 1_000_000;
  // Warm up: two minutes of history per series first, so pages are where they would be.
  for (let b = 0; b < (shape === 'fleet' ? 120 : 20); b++, ts += step)
    await database.events.append(batch(shape, ts, b));
  const ms: Record<'with rollups' | 'without', number[]> = { 'with rollups': [], without: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of ['with rollups', 'without'] as const) {
      writer.rollupBatch = mode === 'with rollups' ? keep : skip;
      const batches = Array.from({ length: BATCHES_PER_ROUND }, (_, b) => batch(shape, (ts += step), round * 10 + b));
      const start = performance.now();
      for (const b of batches) await database.events.append(b);
      ms[mode].push((performance.now() - start) / BATCHES_PER_ROUND);
    }
  }
  const median = (list: number[]) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)];
  const [withRollups, without] = [median(ms['with rollups']), median(ms.without)];
  const rate = (perBatch: number) => Math.round((1000 * KEYS * 1000) / perBatch).toLocaleString('en-US');
  console.log(
    `  ${shape.padEnd(7)} without rollups ${without.toFixed(1)} ms a batch (${rate(without)} values/s); ` +
      `with ${withRollups.toFixed(1)} ms (${rate(withRollups)} values/s): +${Math.round((100 * (withRollups - without)) / without)}%`,
  );
  await database.close();
  rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  console.log(
    `Ingest cost of rollups: batches of 1000 events × ${KEYS} keys, median of ${ROUNDS} rounds of ${BATCHES_PER_ROUND} batches`,
  );
  await measure('device');
  await measure('fleet');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
