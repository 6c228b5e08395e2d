import { Logger } from '@nestjs/common';
import { StateService } from '../src/core/state/state.service';
import type { DeviceTransport } from '../src/core/device-transport';
import type { EventLog } from '../src/core/events/event-log.service';
import type { PresenceService } from '../src/core/events/presence.service';
import type { ModelsService } from '../src/core/models/models.service';
import type { NewEvent } from '../src/domain/events';
import { DomainError } from '../src/domain/errors';
import { strictFake } from '../src/domain/testing';
import type { AppConfig } from '../src/platform/config/config';
import { PgDatabase } from '../src/storage/postgres/pg-database';
import { postgresMissing, startPostgres, type TestPostgres } from './postgres';

const DEVICE = 'dev-1';
const CHANGES = 15;

/** One replica's StateService: its own pool on the shared database, its own per-device chain. */
function replica(store: PgDatabase, appended: NewEvent[]): StateService {
  const transport = strictFake<DeviceTransport>({ publish: async () => undefined }, 'transport');
  const presence = strictFake<PresenceService>({ known: async () => true }, 'presence');
  const log = strictFake<EventLog>(
    {
      append: (event) => {
        appended.push(event);
        return true;
      },
    },
    'log',
  );
  const models = strictFake<ModelsService>({ desiredCheck: async () => undefined }, 'models');
  return new StateService({ stateMaxBytes: 65_536 } as AppConfig, store.deviceState, transport, presence, log, models);
}

/** The change's result, or the code of the DomainError that refused it. */
async function settled<T>(change: Promise<T>): Promise<T | string> {
  try {
    return await change;
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
}

const missing = postgresMissing();
if (missing !== undefined) console.warn(`skipped: ${missing}`);

(missing === undefined ? describe : describe.skip)('device state changed through two replicas on PostgreSQL', () => {
  let cluster: TestPostgres;
  const stores: PgDatabase[] = [];

  beforeAll(async () => {
    Logger.overrideLogger(false);
    cluster = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    for (const store of stores) await store.close();
    cluster?.stop();
  });

  it('loses no change: every stored version is told to one caller, and the document holds every change told stored', async () => {
    const url = cluster.createDatabase('replicas');
    for (let i = 0; i < 2; i++) stores.push(await PgDatabase.open(url, { poolSize: 4 }));
    const appended: NewEvent[] = [];
    const [a, b] = stores.map((store) => replica(store, appended));

    const desired = await Promise.all(
      Array.from({ length: CHANGES }, (_, i) => [
        settled(a.setDesired(DEVICE, { [`a${i}`]: i }, undefined)),
        settled(b.setDesired(DEVICE, { [`b${i}`]: i }, undefined)),
      ]).flat(),
    );
    const reported = await Promise.all(
      Array.from({ length: CHANGES }, (_, i) => [
        settled(a.applyReported(DEVICE, { [`a${i}`]: i }, i)),
        settled(b.applyReported(DEVICE, { [`b${i}`]: i }, i)),
      ]).flat(),
    );

    // A change either went through or was refused as `unavailable` (lost the race 5 times), nothing else.
    const keys = Array.from({ length: CHANGES }, (_, i) => [`a${i}`, `b${i}`]).flat();
    const storedDesired = keys.filter((_, i) => typeof desired[i] === 'object');
    const storedReported = keys.filter((_, i) => reported[i] === undefined);
    expect(desired.filter((r) => typeof r !== 'object' && r !== 'unavailable')).toEqual([]);
    expect(reported.filter((r) => r !== undefined && r !== 'unavailable')).toEqual([]);
    expect(storedDesired.length).toBeGreaterThan(CHANGES);
    expect(storedReported.length).toBeGreaterThan(CHANGES);

    const versions = desired.flatMap((r) => (typeof r === 'object' ? [r.version] : []));
    expect(versions.sort((x, y) => x - y)).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
    const state = await a.get(DEVICE);
    expect(state.version).toBe(versions.length);
    expect(Object.keys(state.desired).sort()).toEqual(storedDesired.sort());
    expect(Object.keys(state.reported).sort()).toEqual(storedReported.sort());
    // One event per stored change, each the document as stored at its version.
    const desiredEvents = appended.map((e) => JSON.parse(e.data) as { desired?: object; version: number });
    expect(
      desiredEvents
        .filter((e) => e.desired !== undefined)
        .map((e) => e.version)
        .sort((x, y) => x - y),
    ).toEqual(versions);
    const last = desiredEvents.find((e) => e.desired !== undefined && e.version === versions.length);
    expect(last?.desired).toEqual(state.desired);
  }, 60_000);
});
