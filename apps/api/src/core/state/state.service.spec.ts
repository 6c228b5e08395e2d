import { Logger } from '@nestjs/common';
import type { JsonObject } from '@iot/protocol';
import type { DeviceStateRecord, DeviceStateRepository } from '../../domain/device-state';
import type { NewEvent } from '../../domain/events';
import { refusalOf, strictFake } from '../../domain/testing';
import type { AppConfig } from '../../platform/config/config';
import type { DeviceTransport, PublishOptions } from '../device-transport';
import type { EventLog } from '../events/event-log.service';
import type { PresenceService } from '../events/presence.service';
import type { ModelsService } from '../models/models.service';
import { DomainError } from '../../domain/errors';
import { StateService } from './state.service';

const NOW = Date.UTC(2026, 0, 1);
const DEVICE = 'dev-1';
const MAX_BYTES = 100;

const empty = (): DeviceStateRecord => ({ reported: {}, desired: {}, version: 0, reportedAt: null, desiredAt: null });

describe('StateService', () => {
  let stored: Map<string, DeviceStateRecord>;
  let revisions: Map<string, number>;
  let saves: Array<{ deviceId: string; state: DeviceStateRecord }>;
  /** Each makes one save lose the race: another writer (replica) stores its change of the device first. */
  let rivals: Array<(state: DeviceStateRecord) => DeviceStateRecord>;
  let published: Array<{ topic: string; payload: unknown; options: PublishOptions }>;
  let appended: Array<{ event: NewEvent; receivedAt: number }>;
  /** When set, each `get` waits for it (to hold a change in the middle). */
  let gate: Promise<void> | undefined;
  let gets: number;
  /** The device model's check of desired patches (undefined: no model). */
  let desiredCheck: Awaited<ReturnType<ModelsService['desiredCheck']>>;
  let sut: StateService;

  beforeAll(() => Logger.overrideLogger(false));

  function make(repository: Partial<DeviceStateRepository> = {}, publish?: DeviceTransport['publish']): StateService {
    const states = strictFake<DeviceStateRepository>(
      {
        get: async (deviceId) => {
          gets++;
          if (gate) await gate;
          return { state: structuredClone(stored.get(deviceId) ?? empty()), revision: revisions.get(deviceId) ?? 0 };
        },
        save: async (deviceId, state, revision) => {
          const rival = rivals.shift();
          if (rival) {
            stored.set(deviceId, rival(structuredClone(stored.get(deviceId) ?? empty())));
            revisions.set(deviceId, (revisions.get(deviceId) ?? 0) + 1);
          }
          if (revision !== (revisions.get(deviceId) ?? 0)) return false;
          saves.push({ deviceId, state: structuredClone(state) });
          stored.set(deviceId, structuredClone(state));
          revisions.set(deviceId, revision + 1);
          return true;
        },
        ...repository,
      },
      'states',
    );
    const transport = strictFake<DeviceTransport>(
      {
        publish:
          publish ??
          (async (topic, payload, options) => {
            published.push({ topic, payload: JSON.parse(String(payload)), options });
          }),
      },
      'transport',
    );
    const presence = strictFake<PresenceService>(
      { has: (id) => id === DEVICE || id === 'dev-2', known: async (id) => id === DEVICE || id === 'dev-2' },
      'presence',
    );
    const log = strictFake<EventLog>(
      {
        append: (event, receivedAt) => {
          appended.push({ event, receivedAt });
          return true;
        },
      },
      'log',
    );
    const models = strictFake<ModelsService>({ desiredCheck: async () => desiredCheck }, 'models');
    return new StateService({ stateMaxBytes: MAX_BYTES } as AppConfig, states, transport, presence, log, models);
  }

  beforeEach(() => {
    jest.useFakeTimers({ now: NOW });
    stored = new Map();
    revisions = new Map();
    saves = [];
    rivals = [];
    published = [];
    appended = [];
    gate = undefined;
    gets = 0;
    desiredCheck = undefined;
    sut = make();
  });

  afterEach(() => jest.useRealTimers());

  describe('setDesired', () => {
    it('merges the patch, bumps the version, appends the state event and publishes the document retained', async () => {
      expect(await sut.setDesired(DEVICE, { mode: 'eco', fan: { speed: 2 } }, undefined)).toEqual({ version: 1 });
      jest.setSystemTime(NOW + 5);
      expect(await sut.setDesired(DEVICE, { fan: { speed: null, on: true } }, 1)).toEqual({ version: 2 });

      const desired = { mode: 'eco', fan: { on: true } };
      expect(stored.get(DEVICE)).toEqual({ reported: {}, desired, version: 2, reportedAt: null, desiredAt: NOW + 5 });
      expect(appended.at(-1)).toEqual({
        event: {
          type: 'state',
          deviceId: DEVICE,
          ts: NOW + 5,
          data: JSON.stringify({ deviceId: DEVICE, desired, version: 2, ts: NOW + 5 }),
        },
        receivedAt: NOW + 5,
      });
      expect(published).toEqual([
        {
          topic: `devices/${DEVICE}/state/desired`,
          payload: { version: 1, state: { mode: 'eco', fan: { speed: 2 } } },
          options: { qos: 1, retain: true },
        },
        {
          topic: `devices/${DEVICE}/state/desired`,
          payload: { version: 2, state: desired },
          options: { qos: 1, retain: true },
        },
      ]);
    });

    it('makes no new version for a patch that changes nothing, and sends the device nothing', async () => {
      await sut.setDesired(DEVICE, { mode: 'eco', fan: { on: true } }, undefined);
      const before = [saves.length, appended.length, published.length];

      expect(await sut.setDesired(DEVICE, { mode: 'eco', fan: { on: true } }, undefined)).toEqual({ version: 1 });
      expect(await sut.setDesired(DEVICE, { absent: null }, 1)).toEqual({ version: 1 });
      expect([saves.length, appended.length, published.length]).toEqual(before);
    });

    it("refuses what the device's model refuses, with the merged document, changing nothing", async () => {
      const seen: unknown[] = [];
      desiredCheck = (patch, merged) => {
        seen.push([patch, merged]);
        if (merged['setpoint'] !== 21) throw new DomainError('bad_request', 'desired.setpoint: must be <= 30');
      };
      await sut.setDesired(DEVICE, { setpoint: 21 }, undefined);

      expect(await refusalOf(() => sut.setDesired(DEVICE, { setpoint: 99 }, undefined))).toBe('bad_request');
      expect(seen).toEqual([
        [{ setpoint: 21 }, { setpoint: 21 }],
        [{ setpoint: 99 }, { setpoint: 99 }],
      ]);
      expect(stored.get(DEVICE)?.desired).toEqual({ setpoint: 21 });
      expect(published).toHaveLength(1);
    });

    it('refuses an expected version that is not current with precondition_failed, changing nothing', async () => {
      await sut.setDesired(DEVICE, { on: true }, 0);

      expect(await refusalOf(() => sut.setDesired(DEVICE, { on: false }, 0))).toBe('precondition_failed');
      expect(stored.get(DEVICE)).toMatchObject({ desired: { on: true }, version: 1 });
      expect([saves.length, appended.length, published.length]).toEqual([1, 1, 1]);
    });

    it('refuses a document over STATE_MAX_BYTES with too_large, saving and publishing nothing', async () => {
      expect(await refusalOf(() => sut.setDesired(DEVICE, { text: 'x'.repeat(MAX_BYTES) }, undefined))).toBe(
        'too_large',
      );
      expect([saves, appended, published]).toEqual([[], [], []]);
    });

    it('refuses a bad patch with bad_request before reading anything', async () => {
      const proto = JSON.parse('{"__proto__":{"polluted":true}}') as JsonObject;
      let deep: JsonObject = { leaf: 1 };
      for (let i = 0; i < 100; i++) deep = { nested: deep };

      expect(await refusalOf(() => sut.setDesired(DEVICE, proto, undefined))).toBe('bad_request');
      expect(await refusalOf(() => sut.setDesired(DEVICE, deep, undefined))).toBe('bad_request');
      expect([gets, saves.length, published.length]).toEqual([0, 0, 0]);
    });

    it('refuses a device it does not know with not_found', async () => {
      expect(await refusalOf(() => sut.setDesired('ghost', { on: true }, undefined))).toBe('not_found');
      expect(gets).toBe(0);
    });

    it('keeps the change when publishing it fails (boot publishes it again)', async () => {
      sut = make({}, async () => {
        throw new Error('broker down');
      });
      expect(await sut.setDesired(DEVICE, { on: true }, undefined)).toEqual({ version: 1 });
      expect(stored.get(DEVICE)?.version).toBe(1);
    });
  });

  describe('applyReported', () => {
    it('merges the device patch into what it reports, at the receive time, keeping the version and desired state', async () => {
      await sut.setDesired(DEVICE, { on: true }, undefined);
      await sut.applyReported(DEVICE, { temp: 20, fan: { speed: 1 } }, NOW + 1);
      await sut.applyReported(DEVICE, { temp: null, fan: { on: true } }, NOW + 2);

      const reported = { fan: { speed: 1, on: true } };
      expect(stored.get(DEVICE)).toEqual({
        reported,
        desired: { on: true },
        version: 1,
        reportedAt: NOW + 2,
        desiredAt: NOW,
      });
      expect(appended.at(-1)).toEqual({
        event: {
          type: 'state',
          deviceId: DEVICE,
          ts: NOW + 2,
          data: JSON.stringify({ deviceId: DEVICE, reported, version: 1, ts: NOW + 2 }),
        },
        receivedAt: NOW + 2,
      });
      expect(published).toHaveLength(1); // the desired document only
    });

    it('refuses a report over STATE_MAX_BYTES with too_large and a bad patch with bad_request, changing nothing', async () => {
      await sut.applyReported(DEVICE, { small: 1 }, NOW);
      const proto = JSON.parse('{"a":{"__proto__":1}}') as JsonObject;

      expect(await refusalOf(() => sut.applyReported(DEVICE, { big: 'x'.repeat(MAX_BYTES) }, NOW + 1))).toBe(
        'too_large',
      );
      expect(await refusalOf(() => sut.applyReported(DEVICE, proto, NOW + 2))).toBe('bad_request');
      expect(stored.get(DEVICE)).toMatchObject({ reported: { small: 1 }, reportedAt: NOW });
      expect([saves.length, appended.length]).toEqual([1, 1]);
    });
  });

  describe('per device, one change after another', () => {
    it('applies two concurrent patches in order: the second reads what the first saved', async () => {
      let open!: () => void;
      gate = new Promise((resolve) => (open = resolve));
      const first = sut.setDesired(DEVICE, { a: 1 }, undefined);
      const second = sut.setDesired(DEVICE, { b: 2 }, 1);
      const other = sut.applyReported('dev-2', { c: 3 }, NOW);
      await jest.advanceTimersByTimeAsync(0);
      expect(gets).toBe(2); // the first device's second change waits; the other device's does not

      gate = undefined;
      open();
      expect(await Promise.all([first, second, other])).toEqual([{ version: 1 }, { version: 2 }, undefined]);
      expect(stored.get(DEVICE)).toMatchObject({ desired: { a: 1, b: 2 }, version: 2 });
      expect(published.map((p) => p.payload)).toEqual([
        { version: 1, state: { a: 1 } },
        { version: 2, state: { a: 1, b: 2 } },
      ]);
    });

    it('goes on with the next change after one is refused', async () => {
      const refused = sut.setDesired(DEVICE, { a: 1 }, 7);
      const next = sut.setDesired(DEVICE, { b: 2 }, 0);
      expect(await refusalOf(() => refused)).toBe('precondition_failed');
      expect(await next).toEqual({ version: 1 });
      expect(stored.get(DEVICE)?.desired).toEqual({ b: 2 });
    });
  });

  describe('another writer saving the device first', () => {
    it('applies an operator patch again to the document the other writer stored, keeping both changes', async () => {
      await sut.setDesired(DEVICE, { a: 1 }, undefined);
      rivals.push((state) => ({ ...state, desired: { ...state.desired, b: 2 }, version: state.version + 1 }));

      expect(await sut.setDesired(DEVICE, { c: 3 }, undefined)).toEqual({ version: 3 });

      expect(stored.get(DEVICE)).toMatchObject({ desired: { a: 1, b: 2, c: 3 }, version: 3 });
      expect(gets).toBe(3); // one read for the first change, two for the second
      expect(appended.at(-1)?.event.data).toBe(
        JSON.stringify({ deviceId: DEVICE, desired: { a: 1, b: 2, c: 3 }, version: 3, ts: NOW }),
      );
      expect(published.map((p) => p.payload)).toEqual([
        { version: 1, state: { a: 1 } },
        { version: 3, state: { a: 1, b: 2, c: 3 } },
      ]);
    });

    it('checks the expected version against the fresh document: precondition_failed when the other writer bumped it', async () => {
      rivals.push((state) => ({ ...state, desired: { b: 2 }, version: 1 }));

      expect(await refusalOf(() => sut.setDesired(DEVICE, { a: 1 }, 0))).toBe('precondition_failed');
      expect(stored.get(DEVICE)).toMatchObject({ desired: { b: 2 }, version: 1 });
      expect([saves, appended, published]).toEqual([[], [], []]);
    });

    it('checks the size limit against the fresh document: too_large when the other writer grew it', async () => {
      rivals.push((state) => ({ ...state, reported: { big: 'x'.repeat(MAX_BYTES - 20) }, reportedAt: NOW }));

      expect(await refusalOf(() => sut.applyReported(DEVICE, { more: 'y'.repeat(20) }, NOW + 1))).toBe('too_large');
      expect(stored.get(DEVICE)?.reported).toEqual({ big: 'x'.repeat(MAX_BYTES - 20) });
      expect([saves, appended]).toEqual([[], []]);
    });

    it("applies a reported patch again to the other writer's document, the event carrying what is stored", async () => {
      await sut.setDesired(DEVICE, { on: true }, undefined);
      rivals.push((state) => ({ ...state, reported: { temp: 20 }, reportedAt: NOW + 1 }));

      await sut.applyReported(DEVICE, { fan: 1 }, NOW + 2);

      const reported = { temp: 20, fan: 1 };
      expect(stored.get(DEVICE)).toEqual({
        reported,
        desired: { on: true },
        version: 1,
        reportedAt: NOW + 2,
        desiredAt: NOW,
      });
      expect(appended.at(-1)?.event.data).toBe(JSON.stringify({ deviceId: DEVICE, reported, version: 1, ts: NOW + 2 }));
    });

    it('gives up with unavailable after five lost races, changing nothing', async () => {
      for (let i = 0; i < 5; i++) rivals.push((state) => ({ ...state, reported: { n: i }, reportedAt: NOW + i }));

      expect(await refusalOf(() => sut.setDesired(DEVICE, { a: 1 }, undefined))).toBe('unavailable');
      expect(gets).toBe(5);
      expect(stored.get(DEVICE)).toMatchObject({ desired: {}, version: 0, reported: { n: 4 } });
      expect([saves, appended, published]).toEqual([[], [], []]);
      // The next change goes through.
      expect(await sut.setDesired(DEVICE, { a: 1 }, undefined)).toEqual({ version: 1 });
    });
  });

  describe('boot', () => {
    it('publishes the desired document of every known device again, retained, going on past a failed publish', async () => {
      const tried: string[] = [];
      sut = make(
        {
          desiredStates: async () => [
            { deviceId: DEVICE, version: 3, desired: { on: true } },
            { deviceId: 'deleted', version: 1, desired: { on: false } },
            { deviceId: 'dev-2', version: 5, desired: { mode: 'eco' } },
          ],
        },
        async (topic, payload, options) => {
          tried.push(topic);
          if (topic.startsWith(`devices/${DEVICE}/`)) throw new Error('broker down');
          published.push({ topic, payload: JSON.parse(String(payload)), options });
        },
      );

      await sut.onApplicationBootstrap();

      expect(tried).toEqual([`devices/${DEVICE}/state/desired`, 'devices/dev-2/state/desired']);
      expect(published).toEqual([
        {
          topic: 'devices/dev-2/state/desired',
          payload: { version: 5, state: { mode: 'eco' } },
          options: { qos: 1, retain: true },
        },
      ]);
    });
  });
});
