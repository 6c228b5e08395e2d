import type { JsonObject } from '@iot/protocol';
import type { BulkRecord, BulkRepository } from '../../domain/bulk';
import type { CommandRepository } from '../../domain/commands';
import type { DeviceRepository, ListedDevice } from '../../domain/devices';
import { DomainError } from '../../domain/errors';
import type { StateService } from '../state/state.service';
import type { CommandsService } from './commands.service';
import { BulkCommandsService } from './bulk-commands.service';

describe('BulkCommandsService', () => {
  let inserted: BulkRecord[];
  let patched: Array<[string, JsonObject, number | undefined]>;
  let listed: ListedDevice[];

  const device = (id: string): ListedDevice => ({
    id,
    name: id,
    type: null,
    labels: { site: 'a' },
    online: true,
    lastSeen: null,
    createdAt: 1,
    updatedAt: 1,
    model: null,
  });

  function make(): BulkCommandsService {
    const state = {
      setDesired: async (deviceId: string, patch: JsonObject, expected: number | undefined) => {
        patched.push([deviceId, patch, expected]);
        if (deviceId === 'ghost') throw new DomainError('not_found', 'no device ghost');
        if (deviceId === 'broken') throw new Error('disk on fire');
        return { version: patched.length };
      },
    } as unknown as StateService;
    const bulks = { insert: async (bulk: BulkRecord) => void inserted.push(bulk) } as unknown as BulkRepository;
    const devices = {
      list: async ({ afterId }: { afterId?: string }) => listed.filter((d) => afterId === undefined || d.id > afterId),
    } as unknown as DeviceRepository;
    const records = { statuses: async () => new Map() } as unknown as CommandRepository;
    return new BulkCommandsService({} as CommandsService, state, records, devices, bulks);
  }

  beforeEach(() => {
    inserted = [];
    patched = [];
    listed = [];
  });

  it('patches each listed device once through the state path, keeping each refusal with its reason', async () => {
    const sut = make();
    const { bulk } = await sut.patchDesired({ devices: ['d1', 'ghost', 'd1', 'broken'] }, { fan: 2, mode: 'eco' }, 'ops');
    expect(patched.map(([id, patch, expected]) => [id, patch, expected])).toEqual([
      ['d1', { fan: 2, mode: 'eco' }, undefined],
      ['ghost', { fan: 2, mode: 'eco' }, undefined],
      ['broken', { fan: 2, mode: 'eco' }, undefined],
    ]);
    expect(bulk).toMatchObject({ kind: 'desired', name: 'fan,mode', createdBy: 'ops', target: 'devices' });
    expect(bulk.items).toEqual([
      { deviceId: 'd1', commandId: null, version: 1, error: null },
      { deviceId: 'ghost', commandId: null, version: null, error: 'no device ghost' },
      { deviceId: 'broken', commandId: null, version: null, error: 'internal error' },
    ]);
    expect(inserted).toEqual([bulk]);
  });

  it('patches every device a label selector matches, and refuses a selector matching none', async () => {
    listed = [device('a1'), device('a2')];
    const sut = make();
    const { bulk } = await sut.patchDesired({ labels: new Map([['site', 'a']]), selector: 'site=a' }, { fan: 1 }, 'ops');
    expect(bulk.target).toBe('labels site=a');
    expect(bulk.items.map((item) => item.deviceId)).toEqual(['a1', 'a2']);
    listed = [];
    await expect(sut.patchDesired({ labels: new Map([['site', 'z']]), selector: 'site=z' }, {}, 'ops')).rejects.toThrow(
      'labels: no device matches the selector',
    );
  });

  it('refuses the listed devices its sender may not see as unknown ones, without patching them', async () => {
    const sut = make();
    const target = { devices: ['d1', 'hidden'], sees: (id: string) => id !== 'hidden' };
    const { bulk } = await sut.patchDesired(target, { fan: 3 }, 'ops');
    expect(patched.map(([id]) => id)).toEqual(['d1']);
    expect(bulk.items).toEqual([
      { deviceId: 'd1', commandId: null, version: 1, error: null },
      { deviceId: 'hidden', commandId: null, version: null, error: 'no device hidden' },
    ]);
  });

  it('refuses a patch no device could take before patching any, and records nothing', async () => {
    const sut = make();
    const patch = JSON.parse('{"__proto__": {"polluted": true}}') as JsonObject;
    await expect(sut.patchDesired({ devices: ['d1'] }, patch, 'ops')).rejects.toMatchObject({ code: 'bad_request' });
    expect(patched).toEqual([]);
    expect(inserted).toEqual([]);
  });
});
