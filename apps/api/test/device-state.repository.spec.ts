import type { DeviceStateRecord, DeviceStateRepository } from '../src/domain/device-state';
import { engines, freshStore } from './storage-engines';

const empty: DeviceStateRecord = { reported: {}, desired: {}, version: 0, reportedAt: null, desiredAt: null };

describe.each(engines())('DeviceStateRepository on %s', (engine) => {
  const open = freshStore(engine);
  let sut: DeviceStateRepository;

  beforeEach(async () => {
    sut = (await open()).deviceState;
  });

  it('is empty at version 0 and revision 0 until saved, then holds the last save at the next revision', async () => {
    expect(await sut.get('d1')).toEqual({ state: empty, revision: 0 });
    expect(await sut.save('d1', { ...empty, reported: { t: 1 }, reportedAt: 5 }, 0)).toBe(true);
    const state = {
      reported: { t: 2, deep: { list: [1, 'a', null] } },
      desired: { mode: 'eco' },
      version: 3,
      reportedAt: 6,
      desiredAt: 7,
    };
    expect(await sut.save('d1', state, 1)).toBe(true);
    expect(await sut.get('d1')).toEqual({ state, revision: 2 });
  });

  it('refuses a save from a stale revision and writes nothing, first save included', async () => {
    const first = { ...empty, desired: { on: true }, version: 1, desiredAt: 1 };
    expect(await sut.save('d1', first, 0)).toBe(true);
    // Another writer that read the device before the first save.
    expect(await sut.save('d1', { ...empty, reported: { t: 1 }, reportedAt: 2 }, 0)).toBe(false);
    expect(await sut.get('d1')).toEqual({ state: first, revision: 1 });

    const second = { ...first, reported: { t: 3 }, reportedAt: 3 };
    expect(await sut.save('d1', second, 1)).toBe(true);
    expect(await sut.save('d1', { ...first, desired: { on: false }, version: 2 }, 1)).toBe(false);
    expect(await sut.save('d1', second, 5)).toBe(false);
    expect(await sut.get('d1')).toEqual({ state: second, revision: 2 });
  });

  it('lets exactly one of two concurrent saves from the same revision through', async () => {
    await sut.save('d1', empty, 0);
    const results = await Promise.all([
      sut.save('d1', { ...empty, reported: { a: 1 }, reportedAt: 1 }, 1),
      sut.save('d1', { ...empty, reported: { b: 2 }, reportedAt: 2 }, 1),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const { state, revision } = await sut.get('d1');
    expect(revision).toBe(2);
    expect(state.reported).toEqual(results[0] ? { a: 1 } : { b: 2 });
  });

  it('lists the desired states of devices whose desired state was ever set', async () => {
    await sut.save('d1', { reported: { t: 1 }, desired: {}, version: 0, reportedAt: 5, desiredAt: null }, 0);
    await sut.save('d2', { reported: {}, desired: { on: true }, version: 2, reportedAt: null, desiredAt: 9 }, 0);
    expect(await sut.desiredStates()).toEqual([{ deviceId: 'd2', version: 2, desired: { on: true } }]);
  });
});
