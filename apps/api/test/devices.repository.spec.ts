import type { DeviceRepository } from '../src/domain/devices';
import { telemetryEvent } from '../src/domain/events';
import { type AnyStore, device, engines, freshStore } from './storage-engines';

describe.each(engines())('DeviceRepository on %s', (engine) => {
  const open = freshStore(engine);
  let store: AnyStore;
  let sut: DeviceRepository;

  beforeEach(async () => {
    store = await open();
    sut = store.devices;
  });

  it('creates once per id and keeps the secret hash apart from the record', async () => {
    const record = device('d1', {
      name: 'Boiler',
      type: 'thermostat',
      labels: { room: 'a' },
      createdAt: 7,
      updatedAt: 7,
    });
    expect(await sut.create(record, 'hash-1')).toBe(true);
    expect(await sut.create(device('d1'), 'hash-2')).toBe(false);
    expect(await sut.get('d1')).toEqual(record);
    expect(await sut.getSecretHash('d1')).toBe('hash-1');
    expect(await sut.setSecretHash('d1', 'hash-3', 9)).toBe(true);
    expect(await sut.getSecretHash('d1')).toBe('hash-3');
    expect((await sut.get('d1'))?.updatedAt).toBe(9);
    expect(await sut.setSecretHash('nope', 'x', 9)).toBe(false);
    expect(await sut.get('nope')).toBeUndefined();
  });

  it('pages by id (byte order) with filters on type, presence and text', async () => {
    for (const id of ['b-2', 'B-1', 'a-3', 'c_4']) {
      await sut.create(device(id, { type: id.startsWith('a') ? 'lamp' : 'meter', name: `Name ${id}` }), 'h');
    }
    await store.events.append([{ type: 'status', deviceId: 'b-2', ts: 1, online: true, data: '{}' }]);
    const ids = async (filter: Parameters<DeviceRepository['list']>[0]) => (await sut.list(filter)).map((d) => d.id);
    expect(await ids({ limit: 10 })).toEqual(['B-1', 'a-3', 'b-2', 'c_4']);
    expect(await ids({ limit: 2 })).toEqual(['B-1', 'a-3']);
    expect(await ids({ limit: 2, afterId: 'a-3' })).toEqual(['b-2', 'c_4']);
    expect(await ids({ limit: 10, type: 'lamp' })).toEqual(['a-3']);
    expect(await ids({ limit: 10, online: true })).toEqual(['b-2']);
    expect(await ids({ limit: 10, online: false })).toEqual(['B-1', 'a-3', 'c_4']);
    // `_` and `%` are matched as themselves.
    expect(await ids({ limit: 10, q: '_' })).toEqual(['c_4']);
    expect(await ids({ limit: 10, q: 'name b' })).toEqual(['B-1', 'b-2']);
  });

  it('filters by a label selector: every pair given must match', async () => {
    await sut.create(device('a', { labels: { site: 'a', floor: '2', 'app.io/tier': 'x' } }), 'h');
    await sut.create(device('b', { labels: { site: 'a', floor: '3' } }), 'h');
    await sut.create(device('c', { labels: { site: 'b' } }), 'h');
    const ids = async (labels: Record<string, string>) =>
      (await sut.list({ limit: 10, labels: new Map(Object.entries(labels)) })).map((d) => d.id);
    expect(await ids({ site: 'a' })).toEqual(['a', 'b']);
    expect(await ids({ site: 'a', floor: '3' })).toEqual(['b']);
    expect(await ids({ 'app.io/tier': 'x' })).toEqual(['a']);
    expect(await ids({ site: 'c' })).toEqual([]);
    expect(await ids({})).toEqual(['a', 'b', 'c']);
  });

  it('lists each device with its model, and filters by the model id (any version)', async () => {
    for (const id of ['a', 'b', 'c']) await sut.create(device(id), 'h');
    await store.models.insert({ id: 'lamp', version: 1 }, 1);
    await store.models.insert({ id: 'lamp', version: 2 }, 1);
    await store.models.insert({ id: 'meter', version: 1 }, 1);
    await store.models.assign('a', { id: 'lamp', version: 2 }, 2);
    await store.models.assign('b', { id: 'meter', version: 1 }, 2);
    await store.models.assign('c', { id: 'lamp', version: 1 }, 2);
    await store.models.assign('c', null, 3);
    expect((await sut.list({ limit: 10 })).map((d) => [d.id, d.model])).toEqual([
      ['a', { id: 'lamp', version: 2 }],
      ['b', { id: 'meter', version: 1 }],
      ['c', null],
    ]);
    const ids = async (filter: Parameters<DeviceRepository['list']>[0]) => (await sut.list(filter)).map((d) => d.id);
    expect(await ids({ limit: 10, model: 'lamp' })).toEqual(['a']);
    expect(await ids({ limit: 10, model: 'meter', afterId: 'a' })).toEqual(['b']);
    expect(await ids({ limit: 10, model: 'nope' })).toEqual([]);
    // With the other filters, whose columns the join must not make ambiguous.
    expect(await ids({ limit: 10, model: 'lamp', q: 'a', type: undefined, online: false })).toEqual(['a']);
  });

  it('updates the fields given, lists every id and the online ones, and marks every device offline', async () => {
    await sut.create(device('d1', { type: 'lamp' }), 'h');
    await sut.create(device('d2'), 'h');
    expect(await sut.update('d1', { name: 'New', labels: { a: 'b' } }, 50)).toEqual(
      device('d1', { name: 'New', type: 'lamp', labels: { a: 'b' }, updatedAt: 50 }),
    );
    expect(await sut.update('d1', { type: null }, 60)).toEqual(
      device('d1', { name: 'New', type: null, labels: { a: 'b' }, updatedAt: 60 }),
    );
    expect(await sut.update('nope', { name: 'x' }, 60)).toBeUndefined();
    await store.events.append([
      { type: 'status', deviceId: 'd1', ts: 1, online: true, data: '{}' },
      { type: 'status', deviceId: 'd2', ts: 1, online: true, data: '{}' },
      { type: 'status', deviceId: 'd2', ts: 2, online: false, data: '{}' },
    ]);
    expect(await sut.onlineIds()).toEqual(['d1']);
    await sut.markAllOffline();
    expect(await sut.onlineIds()).toEqual([]);
    expect((await sut.list({ limit: 10, online: true })).length).toBe(0);
    expect((await sut.allIds()).sort()).toEqual(['d1', 'd2']);
  });

  it('deletes a device with its telemetry, commands and state, and nothing of another', async () => {
    for (const id of ['gone', 'kept']) {
      await sut.create(device(id), 'h');
      await store.events.append([telemetryEvent(id, 60_000, { t: 1 })]);
      await store.commands.insert(
        {
          id: `c-${id}`,
          deviceId: id,
          name: 'reboot',
          params: {},
          status: 'pending',
          timeoutMs: 1000,
          issuedAt: 1,
          expiresAt: 1001,
          sentAt: null,
          updatedAt: 1,
          createdBy: 'admin',
        },
        { status: 'pending', ts: 1 },
      );
      await store.deviceState.save(
        id,
        { reported: { a: 1 }, desired: { b: 2 }, version: 1, reportedAt: 1, desiredAt: 1 },
        0,
      );
    }
    expect(await sut.delete('gone')).toBe(true);
    expect(await sut.delete('gone')).toBe(false);
    expect(await sut.get('gone')).toBeUndefined();
    expect(await store.commands.get('c-gone')).toBeUndefined();
    expect((await store.deviceState.get('gone')).state.version).toBe(0);
    expect((await store.telemetry.latest(['gone', 'kept'])).has('gone')).toBe(false);
    const range = { from: 0, to: 120_000, bucketMs: 60_000, agg: 'count' as const };
    expect(await store.telemetry.aggregate({ deviceId: 'gone', keys: ['t'], ...range })).toEqual({ t: [] });
    expect(await store.telemetry.history({ deviceId: 'gone', keys: ['t'], limit: 10, order: 'asc' })).toEqual({
      t: [],
    });
    expect(store.telemetry.keys.count('gone')).toBe(0);
    expect(await store.telemetry.aggregate({ deviceId: 'kept', keys: ['t'], ...range })).toEqual({ t: [[60_000, 1]] });
    expect(await store.commands.get('c-kept')).toBeDefined();
    expect((await store.deviceState.get('kept')).state.version).toBe(1);
    // A device made again with the id starts empty.
    await sut.create(device('gone'), 'h');
    expect(await store.telemetry.history({ deviceId: 'gone', limit: 10, order: 'asc' })).toEqual({});
  });
});
