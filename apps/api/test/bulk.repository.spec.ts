import type { BulkRecord, BulkRepository } from '../src/domain/bulk';
import { type AnyStore, engines, freshStore } from './storage-engines';

describe.each(engines())('BulkRepository on %s', (engine) => {
  const open = freshStore(engine);
  let store: AnyStore;
  let sut: BulkRepository;

  beforeEach(async () => {
    store = await open();
    sut = store.bulk;
  });

  it('keeps a bulk of each kind as it was inserted, with each device outcome', async () => {
    const command: BulkRecord = {
      id: '019a0000-0000-7000-8000-000000000001',
      kind: 'command',
      name: 'reboot',
      createdBy: 'ops',
      createdAt: 10,
      target: 'labels site=a',
      items: [
        { deviceId: 'd1', commandId: 'c1', error: null },
        { deviceId: 'd2', commandId: null, error: 'no device d2' },
      ],
    };
    const desired: BulkRecord = {
      id: '019a0000-0000-7000-8000-000000000002',
      kind: 'desired',
      name: 'fan,mode',
      createdBy: 'ops',
      createdAt: 11,
      target: 'devices',
      items: [
        { deviceId: 'd1', commandId: null, version: 4, error: null },
        { deviceId: 'd3', commandId: null, version: null, error: 'no device d3' },
      ],
    };
    await sut.insert(command);
    await sut.insert(desired);
    expect(await sut.get(command.id)).toEqual(command);
    expect(await sut.get(desired.id)).toEqual(desired);
    expect(await sut.get('019a0000-0000-7000-8000-000000000003')).toBeUndefined();
  });
});
