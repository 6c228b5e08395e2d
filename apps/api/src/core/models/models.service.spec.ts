import type { DeviceModel } from '@iot/protocol';
import type { ClusterChannel, ClusterNotice } from '../../domain/cluster';
import type { ModelRef, ModelRepository } from '../../domain/models';
import { refusalOf, strictFake } from '../../domain/testing';
import type { PresenceService } from '../events/presence.service';
import { MetricsService } from '../../platform/metrics/metrics.service';
import { ModelsService } from './models.service';

const lamp: DeviceModel = {
  id: 'acme.lamp',
  version: 1,
  commands: {
    dim: {
      params: {
        type: 'object',
        properties: { level: { type: 'integer', minimum: 0, maximum: 100, unit: '%' } },
        required: ['level'],
      },
      timeoutMs: 2000,
    },
    toggle: {},
  },
  desired: { level: { type: 'integer', minimum: 0, maximum: 100 } },
};

describe('ModelsService', () => {
  let catalogue: Map<string, DeviceModel>;
  let assigned: Map<string, ModelRef>;
  let reads: number;
  let notices: ClusterNotice[];
  let metrics: MetricsService;
  let sut: ModelsService;

  beforeEach(() => {
    catalogue = new Map();
    assigned = new Map();
    reads = 0;
    notices = [];
    const repository = strictFake<ModelRepository>(
      {
        insert: async (model) => {
          const key = `${model.id}@${model.version}`;
          if (catalogue.has(key)) return false;
          catalogue.set(key, structuredClone(model));
          return true;
        },
        get: async (ref) => structuredClone(catalogue.get(`${ref.id}@${ref.version}`)),
        assign: async (deviceId, ref) => {
          if (deviceId !== 'd1' && deviceId !== 'd2') return false;
          if (ref === null) assigned.delete(deviceId);
          else assigned.set(deviceId, ref);
          return true;
        },
        assigned: async (deviceId) => {
          reads++;
          return assigned.get(deviceId);
        },
        assignments: async () => [...assigned].map(([deviceId, model]) => ({ deviceId, model })),
      },
      'models',
    );
    const cluster = strictFake<ClusterChannel>(
      { shared: true, announce: async (notice) => void notices.push(notice) },
      'cluster',
    );
    const presence = strictFake<PresenceService>({ known: async (id) => id === 'd1' || id === 'd2' }, 'presence');
    metrics = new MetricsService();
    sut = new ModelsService(repository, cluster, presence, metrics);
  });

  it('takes an announced model into the catalogue and onto the device, and tells the other replicas', async () => {
    await sut.announce('d1', lamp, 5);
    expect(await sut.deviceModel('d1')).toEqual(lamp);
    expect(notices).toEqual([{ kind: 'device.model', deviceId: 'd1' }]);
    // The same model again, its keys in another order: nothing to store, nothing to tell.
    await sut.announce(
      'd1',
      JSON.parse(JSON.stringify({ commands: lamp.commands, desired: lamp.desired, version: 1, id: lamp.id })),
      6,
    );
    expect(notices).toHaveLength(1);
  });

  it('refuses a changed model at a version the catalogue has (conflict), and a model that does not parse (bad_request)', async () => {
    await sut.announce('d1', lamp);
    expect(await refusalOf(() => sut.announce('d2', { ...lamp, commands: {} }))).toBe('conflict');
    expect(await refusalOf(() => sut.create({ ...lamp, commands: {} }))).toBe('conflict');
    expect(await refusalOf(() => sut.announce('d2', { id: 'x' }))).toBe('bad_request');
    expect(await refusalOf(() => sut.announce('d2', [lamp]))).toBe('bad_request');
    expect(await sut.create(lamp)).toEqual({ model: lamp, outcome: 'unchanged' });
    expect(assigned.has('d2')).toBe(false);
  });

  it('checks commands against the model, naming what is wrong, and gives the model timeout', async () => {
    await sut.announce('d1', lamp);
    expect(await sut.checkCommand('d1', 'dim', { level: 40 })).toEqual({ timeoutMs: 2000 });
    expect(await sut.checkCommand('d1', 'toggle', {})).toEqual({});
    const message = async (name: string, params: Record<string, unknown>) =>
      sut.checkCommand('d1', name, params).then(
        () => 'accepted',
        (error: Error) => error.message,
      );
    expect(await message('dim', { level: 101 })).toBe('params.level: must be <= 100');
    expect(await message('dim', { level: 4.5 })).toBe('params.level: must be integer');
    expect(await message('dim', {})).toBe("params: must have required property 'level'");
    expect(await message('toggle', { now: true })).toBe('params: must NOT have additional properties (now)');
    expect(await message('explode', {})).toBe('name: the model acme.lamp version 1 has no command explode');
    expect(await message('constructor', {})).toBe('name: the model acme.lamp version 1 has no command constructor');
  });

  it('checks nothing for a device without a model', async () => {
    expect(await sut.checkCommand('d2', 'anything', { at: 'all' })).toEqual({});
    expect(await sut.desiredCheck('d2')).toBeUndefined();
  });

  it("checks desired patches by the model's desired properties, deletions always allowed", async () => {
    await sut.announce('d1', lamp);
    const fits = await sut.desiredCheck('d1');
    expect(() => fits?.({ level: 5 }, { level: 5 })).not.toThrow();
    expect(() => fits?.({ other: null }, {})).not.toThrow();
    expect(() => fits?.({ level: 500 }, { level: 500 })).toThrow('desired.level: must be <= 100');
    expect(() => fits?.({ colour: 'red' }, { colour: 'red' })).toThrow(
      'desired.colour: the model acme.lamp version 1 has no such property',
    );
  });

  it("reads a device's model once, and again after another replica changed it", async () => {
    await sut.checkCommand('d1', 'x', {});
    await sut.checkCommand('d1', 'y', {});
    expect(reads).toBe(1);
    assigned.set('d1', { id: 'acme.lamp', version: 1 });
    await sut.create(lamp);
    sut.forget('d1');
    expect(await refusalOf(() => sut.checkCommand('d1', 'x', {}))).toBe('bad_request');
    expect(reads).toBe(2);
  });

  describe('telemetry', () => {
    const meter: DeviceModel = {
      id: 'acme.meter',
      version: 1,
      telemetry: {
        watts: { type: 'number', minimum: 0, maximum: 3600 },
        phase: { type: 'integer' },
        on: { type: 'boolean' },
        mode: { type: 'enum', values: ['eco', 'boost'] },
      },
    };

    it("flags and counts the values that do not fit their key's type, range or values, and nothing else", async () => {
      await sut.announce('d1', meter);

      expect(
        sut.telemetryMisfits('d1', { watts: 100, phase: 2, on: true, mode: 'eco', other: 'x' }, 1),
      ).toBeUndefined();
      expect(sut.telemetryMisfits('d1', { watts: 4000, phase: 1.5, on: 1, mode: 'turbo' }, 2)).toEqual([
        'watts',
        'phase',
        'on',
        'mode',
      ]);
      expect(sut.telemetryMisfits('d1', { watts: -1 }, 3)).toEqual(['watts']);
      expect(sut.misfitsOf('d1')).toEqual({
        watts: { count: 2, ts: 3, value: -1, problem: 'below its minimum 0' },
        phase: { count: 1, ts: 2, value: 1.5, problem: 'not an integer' },
        on: { count: 1, ts: 2, value: 1, problem: 'not a boolean' },
        mode: { count: 1, ts: 2, value: 'turbo', problem: 'not one of its values' },
      });
      expect((await metrics.telemetryMisfits.get()).values[0].value).toBe(5);
      sut.forget('d1');
      expect(sut.misfitsOf('d1')).toEqual({});
    });

    it('checks a device whose model is not in memory from the messages after it was read, and one without a model never', async () => {
      await sut.create(meter);
      assigned.set('d1', { id: 'acme.meter', version: 1 });

      expect(sut.telemetryMisfits('d1', { watts: -1 }, 1)).toBeUndefined();
      await Promise.resolve();
      await new Promise((resolve) => setImmediate(resolve));
      expect(sut.telemetryMisfits('d1', { watts: -1 }, 2)).toEqual(['watts']);
      expect(sut.telemetryMisfits('d2', { watts: -1 }, 2)).toBeUndefined();
    });

    it('reads every assignment at boot, so the first message is checked', async () => {
      await sut.create(meter);
      assigned.set('d1', { id: 'acme.meter', version: 1 });
      await sut.onApplicationBootstrap();
      expect(sut.telemetryMisfits('d1', { on: 'yes' }, 1)).toEqual(['on']);
    });
  });

  it('assigns only catalogue models to devices that exist, and takes a model away', async () => {
    await sut.create(lamp);
    expect(await refusalOf(() => sut.assign('d1', { id: 'acme.lamp', version: 2 }))).toBe('not_found');
    expect(await refusalOf(() => sut.assign('ghost', { id: 'acme.lamp', version: 1 }))).toBe('not_found');
    await sut.assign('d1', { id: 'acme.lamp', version: 1 });
    expect(await sut.deviceModel('d1')).toEqual(lamp);
    await sut.assign('d1', null);
    expect(await sut.deviceModel('d1')).toBeUndefined();
    expect(await refusalOf(() => sut.deviceModel('ghost'))).toBe('not_found');
  });
});
