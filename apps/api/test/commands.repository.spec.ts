import type { CommandRecord, CommandRepository } from '../src/domain/commands';
import { device, engines, freshStore } from './storage-engines';

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

  it('settles each of the writes given at once on its own: one that fails fails alone', async () => {
    await sut.insert(command('c0'), { status: 'pending', ts: 100 });
    const writes = [
      sut.insert(command('c1'), { status: 'pending', ts: 100 }),
      // The same id again: refused.
      sut.insert(command('c0'), { status: 'pending', ts: 100 }),
      sut.update('c0', 'pending', { status: 'sent', sentAt: 110 }, { status: 'sent', ts: 110 }, 110),
    ];
    const [first, again, update] = await Promise.allSettled(writes);
    expect([first.status, again.status, update]).toEqual(['fulfilled', 'rejected', { status: 'fulfilled', value: true }]);
    expect((await sut.get('c1'))?.status).toBe('pending');
    expect((await sut.get('c0'))?.transitions.map((t) => t.status)).toEqual(['pending', 'sent']);
  });

  it('keeps a command with every transition in order, and what each changed', async () => {
    await sut.insert(command('c1'), { status: 'pending', ts: 100, by: 'admin' });
    expect(await sut.update('c1', 'pending', { status: 'sent', sentAt: 110 }, { status: 'sent', ts: 110 }, 110)).toBe(true);
    expect(await sut.update('c1', 'sent', { status: 'accepted' }, { status: 'accepted', ts: 110 }, 110)).toBe(true);
    await sut.update('c1', 'accepted', { status: 'succeeded', result: { ok: [1, 2] } }, { status: 'succeeded', ts: 120 }, 120);
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
    await sut.update('c2', 'pending', { status: 'failed', error: 'no power' }, { status: 'failed', ts: 130 }, 130);
    expect(await sut.get('c2')).toMatchObject({ status: 'failed', error: 'no power', sentAt: null });
    expect(await sut.get('nope')).toBeUndefined();
  });

  it("lists a device's commands newest first before an id, and the open ones oldest first", async () => {
    for (const id of ['01', '02', '03', '04']) await sut.insert(command(id), { status: 'pending', ts: 1 });
    await sut.insert(command('05', 'd2'), { status: 'pending', ts: 1 });
    await sut.update('02', 'pending', { status: 'expired' }, { status: 'expired', ts: 2 }, 2);
    expect((await sut.list('d1', undefined, 2)).map((c) => c.id)).toEqual(['04', '03']);
    expect((await sut.list('d1', '03', 10)).map((c) => c.id)).toEqual(['02', '01']);
    expect((await sut.list('d1', '03', 10))[0].transitions).toEqual([
      { status: 'pending', ts: 1 },
      { status: 'expired', ts: 2 },
    ]);
    expect((await sut.open()).map((c) => c.id)).toEqual(['01', '03', '04', '05']);
    expect((await sut.pending('d1')).map((c) => c.id)).toEqual(['01', '03', '04']);
    await sut.update('03', 'pending', { status: 'sent', sentAt: 5 }, { status: 'sent', ts: 5 }, 5);
    expect((await sut.pending('d1')).map((c) => c.id)).toEqual(['01', '04']);
  });

  it('reads the statuses of many commands at once, leaving out those it does not have', async () => {
    await sut.insert(command('c1'), { status: 'pending', ts: 100 });
    await sut.insert(command('c2', 'd1', { status: 'sent', sentAt: 100 }), { status: 'sent', ts: 100 });
    expect(await sut.statuses(['c1', 'c2', 'nope'])).toEqual(
      new Map([
        ['c1', 'pending'],
        ['c2', 'sent'],
      ]),
    );
    expect(await sut.statuses([])).toEqual(new Map());
  });

  it('keeps progress and a longer timeout within a status, with no transition row for them', async () => {
    await sut.insert(command('c1', 'd1', { status: 'sent', sentAt: 100 }), { status: 'sent', ts: 100 });
    await sut.update('c1', 'sent', { status: 'in-progress', progress: 10 }, { status: 'in-progress', ts: 110 }, 110);
    expect(await sut.update('c1', 'in-progress', { status: 'in-progress', progress: 55.5, timeoutMs: 90_000 }, undefined, 120)).toBe(true);
    expect(await sut.update('c1', 'sent', { status: 'in-progress', progress: 99 }, undefined, 130)).toBe(false);
    expect(await sut.get('c1')).toMatchObject({
      status: 'in-progress',
      progress: 55.5,
      timeoutMs: 90_000,
      updatedAt: 120,
      transitions: [
        { status: 'sent', ts: 100 },
        { status: 'in-progress', ts: 110 },
      ],
    });
    expect((await sut.overdue(100 + 89_999, 10)).map((c) => c.id)).toEqual([]);
    expect((await sut.overdue(100 + 90_000, 10)).map((c) => c.id)).toEqual(['c1']);
  });

  it('writes a transition only from the status it was given (replicas race for it): the loser writes nothing', async () => {
    await sut.insert(command('c1', 'd1', { status: 'sent', sentAt: 100 }), { status: 'sent', ts: 100 });
    expect(await sut.update('c1', 'sent', { status: 'succeeded', result: 1 }, { status: 'succeeded', ts: 110 }, 110)).toBe(true);
    expect(await sut.update('c1', 'sent', { status: 'timed-out', error: 'late' }, { status: 'timed-out', ts: 111 }, 111)).toBe(
      false,
    );
    expect(await sut.update('nope', 'sent', { status: 'timed-out' }, { status: 'timed-out', ts: 111 }, 111)).toBe(false);
    expect(await sut.get('c1')).toMatchObject({
      status: 'succeeded',
      result: 1,
      updatedAt: 110,
      transitions: [
        { status: 'sent', ts: 100 },
        { status: 'succeeded', ts: 110 },
      ],
    });
    expect((await sut.get('c1'))?.error).toBeUndefined();
  });

  it('finds open commands past their deadline: expiry while held, timeout once sent', async () => {
    // command(): issued at 100, expires at 100 + ttl, times out 30 s after it is sent.
    const base = command('a');
    await sut.insert({ ...base, id: 'held', expiresAt: 1_000 }, { status: 'pending', ts: 100 });
    await sut.insert({ ...base, id: 'held-later', expiresAt: 5_000 }, { status: 'pending', ts: 100 });
    await sut.insert({ ...base, id: 'sent', status: 'sent', sentAt: 200, timeoutMs: 700 }, { status: 'sent', ts: 200 });
    await sut.insert({ ...base, id: 'accepted', status: 'accepted', sentAt: 300, timeoutMs: 5_000 }, { status: 'accepted', ts: 300 });
    await sut.insert({ ...base, id: 'done', status: 'succeeded', sentAt: 0, timeoutMs: 1 }, { status: 'succeeded', ts: 300 });
    expect((await sut.overdue(899, 10)).map((c) => c.id)).toEqual([]);
    expect((await sut.overdue(900, 10)).map((c) => c.id)).toEqual(['sent']);
    expect((await sut.overdue(1_000, 10)).map((c) => c.id)).toEqual(['held', 'sent']);
    expect((await sut.overdue(1_000, 1)).map((c) => c.id)).toEqual(['held']);
    expect((await sut.overdue(10_000, 10)).map((c) => c.id)).toEqual(['accepted', 'held', 'held-later', 'sent']);
  });
});

describe('CommandRepository on SQLite: writes committed together at the end of a turn of the event loop', () => {
  const open = freshStore('SQLite');

  it("takes a device's commands with it, those given just before its deletion too", async () => {
    const store = await open();
    await store.devices.create(device('d1'), 'h');
    await store.commands.insert(command('c1'), { status: 'pending', ts: 100 });
    const late = store.commands.insert(command('c2'), { status: 'pending', ts: 100 });
    expect(await store.devices.delete('d1')).toBe(true);
    await late;
    expect([await store.commands.get('c1'), await store.commands.get('c2')]).toEqual([undefined, undefined]);
  });
});
