import type { AuditEntry, AuditRepository } from '../src/domain/audit';
import { type AnyStore, engines, freshStore } from './storage-engines';

const entry = (ts: number, overrides: Partial<AuditEntry> = {}): AuditEntry => ({
  ts,
  actor: 'alice',
  action: 'device.create',
  target: 'd1',
  outcome: 'ok',
  address: '10.0.0.1',
  detail: null,
  ...overrides,
});

describe.each(engines())('AuditRepository on %s', (engine) => {
  const open = freshStore(engine);
  let store: AnyStore;
  let sut: AuditRepository;

  beforeEach(async () => {
    store = await open();
    sut = store.audit;
  });

  it('lists newest first, filtered by actor, action, target and time, paged by id', async () => {
    await sut.append([
      entry(100),
      entry(200, { actor: 'bob', action: 'command.send', detail: 'reboot' }),
      entry(300, { target: 'd2', outcome: 'refused' }),
    ]);
    await sut.append([entry(400, { actor: null, action: 'auth.login', target: null, outcome: 'refused' })]);
    const all = await sut.list({ limit: 10 });
    expect(all.map((r) => r.ts)).toEqual([400, 300, 200, 100]);
    expect(all[0]).toEqual({
      id: expect.any(Number),
      ...entry(400, { actor: null, action: 'auth.login', target: null, outcome: 'refused' }),
    });
    expect(all.map((r) => r.id)).toEqual([...all.map((r) => r.id)].sort((a, b) => b - a));
    expect((await sut.list({ limit: 10, actor: 'bob' })).map((r) => r.detail)).toEqual(['reboot']);
    expect((await sut.list({ limit: 10, action: 'device.create' })).map((r) => r.ts)).toEqual([300, 100]);
    expect((await sut.list({ limit: 10, target: 'd2' })).map((r) => r.ts)).toEqual([300]);
    expect((await sut.list({ limit: 10, from: 200, to: 400 })).map((r) => r.ts)).toEqual([300, 200]);
    expect((await sut.list({ limit: 2, beforeId: all[1].id })).map((r) => r.ts)).toEqual([200, 100]);
  });

  it('prunes the entries older than a time', async () => {
    await sut.append([entry(100), entry(200), entry(300)]);
    expect(await sut.prune(250)).toBe(2);
    expect((await sut.list({ limit: 10 })).map((r) => r.ts)).toEqual([300]);
  });
});
