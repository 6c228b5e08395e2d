import type { AlarmRepository, AlarmRule, AlarmRuleRepository, NewAlarm } from '../src/domain/alarms';
import { type AnyStore, device, engines, freshStore } from './storage-engines';

function aRule(id: string, overrides: Partial<AlarmRule> = {}): AlarmRule {
  return {
    id,
    name: `rule ${id}`,
    severity: 'major',
    enabled: true,
    target: { labels: 'site=a' },
    condition: { kind: 'above', key: 'temperature', threshold: 24, hysteresis: 0.5, forMs: 10_000 },
    createdAt: 1,
    updatedAt: 1,
    ...overrides,
  };
}

function anAlarm(ruleId: string, deviceId: string, ts = 100): NewAlarm {
  return { ruleId, ruleName: `rule ${ruleId}`, deviceId, severity: 'major', message: 'temperature 25 above 24', ts };
}

describe.each(engines())('AlarmRuleRepository on %s', (engine) => {
  const open = freshStore(engine);
  let sut: AlarmRuleRepository;

  beforeEach(async () => {
    sut = (await open()).alarmRules;
  });

  it('stores, lists by name, replaces and deletes rules as given', async () => {
    expect(await sut.insert(aRule('b', { name: 'zeta' }), 10)).toBe(true);
    expect(await sut.insert(aRule('a', { name: 'alpha', condition: { kind: 'offline', forMs: 60_000 } }), 10)).toBe(
      true,
    );
    expect((await sut.list()).map((r) => r.id)).toEqual(['a', 'b']);
    expect(await sut.get('b')).toEqual(aRule('b', { name: 'zeta' }));

    const changed = aRule('b', { name: 'zeta', enabled: false, target: { deviceId: 'd1' }, updatedAt: 5 });
    expect(await sut.update(changed)).toBe(true);
    expect(await sut.get('b')).toEqual(changed);
    expect(await sut.update(aRule('nope'))).toBe(false);

    expect(await sut.delete('a')).toBe(true);
    expect(await sut.delete('a')).toBe(false);
    expect(await sut.get('a')).toBeUndefined();
  });

  it('refuses a rule past the bound, also when inserted at once', async () => {
    const landed = await Promise.all(['a', 'b', 'c', 'd'].map((id) => sut.insert(aRule(id), 2)));
    expect(landed.filter(Boolean)).toHaveLength(2);
    expect(await sut.list()).toHaveLength(2);
  });
});

describe.each(engines())('AlarmRepository on %s', (engine) => {
  const open = freshStore(engine);
  let store: AnyStore;
  let sut: AlarmRepository;

  beforeEach(async () => {
    store = await open();
    sut = store.alarms;
    for (const id of ['d1', 'd2']) await store.devices.create(device(id), 'hash');
  });

  it('holds one open alarm per (rule, device), even when raised at once, and a new one once it is cleared', async () => {
    const [first, second] = await Promise.all([sut.raise(anAlarm('r1', 'd1')), sut.raise(anAlarm('r1', 'd1', 101))]);
    const landed = [first, second].filter((a) => a !== undefined);
    expect(landed).toHaveLength(1);
    const alarm = landed[0]!;
    expect(alarm).toMatchObject({
      ruleId: 'r1',
      deviceId: 'd1',
      status: 'raised',
      acknowledgedAt: null,
      clearedAt: null,
    });

    expect(await sut.raise(anAlarm('r2', 'd1'))).toBeDefined();
    expect(await sut.raise(anAlarm('r1', 'd2'))).toBeDefined();
    expect(await sut.raise(anAlarm('r1', 'ghost'))).toBeUndefined();

    await sut.transition(alarm.id, ['raised', 'acknowledged'], 'cleared', {
      ts: 200,
      by: null,
      note: null,
      message: 'ok',
    });
    const again = await sut.raise(anAlarm('r1', 'd1', 300));
    expect(again).toBeDefined();
    expect(Number(again!.id)).toBeGreaterThan(Number(alarm.id));
  });

  it('moves an alarm only from the statuses named, once, and keeps each transition', async () => {
    const alarm = (await sut.raise(anAlarm('r1', 'd1')))!;
    const acked = await sut.transition(alarm.id, ['raised'], 'acknowledged', {
      ts: 150,
      by: 'ada',
      note: 'on it',
      message: 'acknowledged by ada',
    });
    expect(acked).toMatchObject({ status: 'acknowledged', acknowledgedAt: 150, acknowledgedBy: 'ada' });
    expect(
      await sut.transition(alarm.id, ['raised'], 'acknowledged', { ts: 151, by: 'bob', note: null, message: 'x' }),
    ).toBeUndefined();
    const cleared = await sut.transition(alarm.id, ['raised', 'acknowledged'], 'cleared', {
      ts: 160,
      by: null,
      note: null,
      message: 'back within bounds',
    });
    expect(cleared).toMatchObject({ status: 'cleared', clearedAt: 160, clearedBy: null, acknowledgedBy: 'ada' });
    expect(
      await sut.transition(alarm.id, ['raised', 'acknowledged'], 'cleared', {
        ts: 170,
        by: 'ada',
        note: null,
        message: 'x',
      }),
    ).toBeUndefined();
    expect(
      await sut.transition('999999', ['raised'], 'cleared', { ts: 1, by: null, note: null, message: 'x' }),
    ).toBeUndefined();
    expect(
      await sut.transition('not-an-id', ['raised'], 'cleared', { ts: 1, by: null, note: null, message: 'x' }),
    ).toBeUndefined();

    expect(await sut.transitions(alarm.id)).toEqual([
      { status: 'raised', ts: 100, by: null, note: null, message: 'temperature 25 above 24' },
      { status: 'acknowledged', ts: 150, by: 'ada', note: 'on it', message: 'acknowledged by ada' },
      { status: 'cleared', ts: 160, by: null, note: null, message: 'back within bounds' },
    ]);
    expect(await sut.get(alarm.id)).toEqual(cleared);
    expect(await sut.get('nope')).toBeUndefined();
  });

  it('lists newest first with filters and pages, the open ones, and counts them per device', async () => {
    const a = (await sut.raise(anAlarm('r1', 'd1')))!;
    const b = (await sut.raise(anAlarm('r2', 'd1')))!;
    const c = (await sut.raise({ ...anAlarm('r1', 'd2'), severity: 'critical' }))!;
    await sut.transition(a.id, ['raised'], 'cleared', { ts: 200, by: 'ada', note: null, message: 'x' });

    const ids = (alarms: Array<{ id: string }>) => alarms.map((x) => x.id);
    expect(ids(await sut.list({ limit: 10 }))).toEqual([c.id, b.id, a.id]);
    expect(ids(await sut.list({ limit: 2 }))).toEqual([c.id, b.id]);
    expect(ids(await sut.list({ limit: 2, beforeId: b.id }))).toEqual([a.id]);
    expect(ids(await sut.list({ active: true, limit: 10 }))).toEqual([c.id, b.id]);
    expect(ids(await sut.list({ active: false, limit: 10 }))).toEqual([a.id]);
    expect(ids(await sut.list({ status: 'cleared', limit: 10 }))).toEqual([a.id]);
    expect(ids(await sut.list({ deviceId: 'd1', limit: 10 }))).toEqual([b.id, a.id]);
    expect(ids(await sut.list({ ruleId: 'r1', limit: 10 }))).toEqual([c.id, a.id]);
    expect(ids(await sut.list({ severity: 'critical', limit: 10 }))).toEqual([c.id]);

    expect(ids(await sut.open(10))).toEqual([b.id, c.id]);
    expect(ids(await sut.open(1))).toEqual([b.id]);
    expect(await sut.openCounts(['d1', 'd2', 'd3'])).toEqual(
      new Map([
        ['d1', 1],
        ['d2', 1],
      ]),
    );
    expect(await sut.openCounts([])).toEqual(new Map());
  });

  it('forgets the alarms of a deleted device', async () => {
    const alarm = (await sut.raise(anAlarm('r1', 'd1')))!;
    expect(await store.devices.delete('d1')).toBe(true);
    expect(await sut.get(alarm.id)).toBeUndefined();
    expect(await sut.transitions(alarm.id)).toEqual([]);
    expect(await sut.openCounts(['d1'])).toEqual(new Map());
  });
});
