import type { DeviceModel } from '@iot/protocol';
import type { ModelRepository } from '../src/domain/models';
import { type AnyStore, device, engines, freshStore } from './storage-engines';

const v1: DeviceModel = {
  id: 'acme.lamp',
  version: 1,
  title: 'Lamp',
  telemetry: { on: { type: 'boolean', chart: 'step' } },
  commands: { toggle: {} },
};
const v2: DeviceModel = {
  ...v1,
  version: 2,
  telemetry: { on: { type: 'boolean' }, watts: { type: 'number', unit: 'W' } },
};

describe.each(engines())('ModelRepository on %s', (engine) => {
  const open = freshStore(engine);
  let store: AnyStore;
  let sut: ModelRepository;

  beforeEach(async () => {
    store = await open();
    sut = store.models;
  });

  it('keeps a version once, as it was first stored', async () => {
    expect(await sut.insert(v1, 10)).toBe(true);
    expect(await sut.insert({ ...v1, title: 'Another lamp' }, 12)).toBe(false);
    expect(await sut.get({ id: 'acme.lamp', version: 1 })).toEqual(v1);
    expect(await sut.get({ id: 'acme.lamp', version: 2 })).toBeUndefined();
  });

  it('lists each model at its newest version, in byte order, paged by id', async () => {
    await sut.insert(v1, 1);
    await sut.insert(v2, 2);
    await sut.insert({ id: 'b.meter', version: 3 }, 3);
    await sut.insert({ id: '0.first', version: 1, title: 'First' }, 4);
    expect(await sut.list(10)).toEqual([
      { id: '0.first', version: 1, title: 'First', versions: 1 },
      { id: 'acme.lamp', version: 2, title: 'Lamp', versions: 2 },
      { id: 'b.meter', version: 3, title: null, versions: 1 },
    ]);
    expect((await sut.list(1, '0.first')).map((m) => m.id)).toEqual(['acme.lamp']);
    expect(await sut.versions('acme.lamp')).toEqual([2, 1]);
    expect(await sut.versions('nope')).toEqual([]);
  });

  it('assigns a model to a device, and forgets the assignment with the device', async () => {
    await store.devices.create(device('d1'), 'h');
    await sut.insert(v1, 1);
    await sut.insert(v2, 2);
    expect(await sut.assigned('d1')).toBeUndefined();
    expect(await sut.assign('d1', { id: 'acme.lamp', version: 1 }, 5)).toBe(true);
    expect(await sut.assign('d1', { id: 'acme.lamp', version: 2 }, 6)).toBe(true);
    expect(await sut.assigned('d1')).toEqual({ id: 'acme.lamp', version: 2 });
    expect(await sut.assignments()).toEqual([{ deviceId: 'd1', model: { id: 'acme.lamp', version: 2 } }]);
    expect(await sut.assign('d1', { id: 'acme.lamp', version: 9 }, 7)).toBe(false);
    expect(await sut.assign('nope', { id: 'acme.lamp', version: 1 }, 7)).toBe(false);
    expect(await sut.assigned('d1')).toEqual({ id: 'acme.lamp', version: 2 });
    expect(await sut.assign('d1', null, 8)).toBe(true);
    expect(await sut.assigned('d1')).toBeUndefined();
    expect(await sut.assignments()).toEqual([]);
    expect(await sut.assign('nope', null, 8)).toBe(false);

    await sut.assign('d1', { id: 'acme.lamp', version: 1 }, 9);
    expect(await store.devices.delete('d1')).toBe(true);
    await store.devices.create(device('d1'), 'h');
    expect(await sut.assigned('d1')).toBeUndefined();
  });
});
