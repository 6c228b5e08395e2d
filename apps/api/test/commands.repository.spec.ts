import type { CommandRecord, CommandRepository } from '../src/domain/commands';
import { engines, freshStore } from './storage-engines';

function command(id: string, deviceId = 'd1', overrides: Partial<CommandRecord> = {}): CommandRecord {
  return {
    id,
    deviceId,
    name: 'set',
    params: { level: 3, nested: { on: true } },
    status: 'pending',
    timeoutMs: 30_000,
    issuedAt: 100,
    expiresAt: 30_100,
    sentAt: null,
    updatedAt: 100,
    createdBy: 'admin',
    ...overrides,
  };
}

describe.each(engines())('CommandRepository on %s', (engine) => {
  const open = freshStore(engine);
  let sut: CommandRepository;

  beforeEach(async () => {
    sut = (await open()).commands;
  });

  it('keeps a command with every transition in order, and what each changed', async () => {
    await sut.insert(command('c1'), { status: 'pending', ts: 100, by: 'admin' });
    await sut.update('c1', { status: 'sent', sentAt: 110 }, { status: 'sent', ts: 110 });
    await sut.update('c1', { status: 'accepted' }, { status: 'accepted', ts: 110 });
    await sut.update('c1', { status: 'succeeded', result: { ok: [1, 2] } }, { status: 'succeeded', ts: 120 });
    expect(await sut.get('c1')).toEqual({
      ...command('c1'),
      status: 'succeeded',
      sentAt: 110,
      updatedAt: 120,
      result: { ok: [1, 2] },
      transitions: [
        { status: 'pending', ts: 100, by: 'admin' },
        { status: 'sent', ts: 110 },
        { status: 'accepted', ts: 110 },
        { status: 'succeeded', ts: 120 },
      ],
    });
    await sut.insert(command('c2'), { status: 'pending', ts: 100 });
    await sut.update('c2', { status: 'failed', error: 'no power' }, { status: 'failed', ts: 130 });
    expect(await sut.get('c2')).toMatchObject({ status: 'failed', error: 'no power', sentAt: null });
    expect(await sut.get('nope')).toBeUndefined();
  });

  it("lists a device's commands newest first before an id, and the open ones oldest first", async () => {
    for (const id of ['01', '02', '03', '04']) await sut.insert(command(id), { status: 'pending', ts: 1 });
    await sut.insert(command('05', 'd2'), { status: 'pending', ts: 1 });
    await sut.update('02', { status: 'expired' }, { status: 'expired', ts: 2 });
    expect((await sut.list('d1', undefined, 2)).map((c) => c.id)).toEqual(['04', '03']);
    expect((await sut.list('d1', '03', 10)).map((c) => c.id)).toEqual(['02', '01']);
    expect((await sut.list('d1', '03', 10))[0].transitions).toEqual([
      { status: 'pending', ts: 1 },
      { status: 'expired', ts: 2 },
    ]);
    expect((await sut.open()).map((c) => c.id)).toEqual(['01', '03', '04', '05']);
  });
});
