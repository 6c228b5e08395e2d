import type { DeviceStateRepository } from '../src/domain/device-state';
import { engines, freshStore } from './storage-engines';

describe.each(engines())('DeviceStateRepository on %s', (engine) => {
  const open = freshStore(engine);
  let sut: DeviceStateRepository;

  beforeEach(async () => {
    sut = (await open()).deviceState;
  });

  it('is empty at version 0 until saved, then holds the last save', async () => {
    expect(await sut.get('d1')).toEqual({ reported: {}, desired: {}, version: 0, reportedAt: null, desiredAt: null });
    await sut.save('d1', { reported: { t: 1 }, desired: {}, version: 0, reportedAt: 5, desiredAt: null });
    const state = {
      reported: { t: 2, deep: { list: [1, 'a', null] } },
      desired: { mode: 'eco' },
      version: 3,
      reportedAt: 6,
      desiredAt: 7,
    };
    await sut.save('d1', state);
    expect(await sut.get('d1')).toEqual(state);
  });

  it('lists the desired states of devices whose desired state was ever set', async () => {
    await sut.save('d1', { reported: { t: 1 }, desired: {}, version: 0, reportedAt: 5, desiredAt: null });
    await sut.save('d2', { reported: {}, desired: { on: true }, version: 2, reportedAt: null, desiredAt: 9 });
    expect(await sut.desiredStates()).toEqual([{ deviceId: 'd2', version: 2, desired: { on: true } }]);
  });
});
