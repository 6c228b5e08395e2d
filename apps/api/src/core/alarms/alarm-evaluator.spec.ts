import { type AlarmConditionInput, alarmConditionSchema } from '@iot/protocol';
import type { AlarmRule } from '../../domain/alarms';
import { type AlarmActions, AlarmEvaluator, type DeviceProfile } from './alarm-evaluator';

const T0 = 1_700_000_000_000;

function rule(condition: AlarmConditionInput, extra: Partial<AlarmRule> = {}): AlarmRule {
  return {
    id: 'r1',
    name: 'hot',
    severity: 'major',
    enabled: true,
    target: { deviceId: 'd1' },
    condition: alarmConditionSchema.parse(condition),
    createdAt: T0,
    updatedAt: T0,
    ...extra,
  };
}

describe('AlarmEvaluator', () => {
  let raised: Array<{ ruleId: string; deviceId: string; message: string; at: number }>;
  let cleared: Array<{ alarmId: string; message: string; at: number }>;
  let nextId: number;
  /** When set, raises resolve to undefined: another replica stored the alarm first. */
  let lose: boolean;
  let sut: AlarmEvaluator;
  const profiles: Array<[string, DeviceProfile]> = [
    ['d1', { labels: { site: 'a' }, modelId: 'thermostat' }],
    ['d2', { labels: { site: 'b' }, modelId: 'thermostat' }],
  ];

  const actions: AlarmActions = {
    raise: async (r, deviceId, cause) => {
      raised.push({ ruleId: r.id, deviceId, message: cause.message, at: Date.now() - T0 });
      return lose ? undefined : String(nextId++);
    },
    clear: (alarmId, _r, _d, cause) => {
      cleared.push({ alarmId, message: cause.message, at: Date.now() - T0 });
      // As the log would bring it back.
      sut.alarm({
        alarmId,
        ruleId: _r.id,
        ruleName: _r.name,
        deviceId: _d,
        severity: _r.severity,
        status: 'cleared',
        message: cause.message,
        ts: Date.now(),
      });
    },
  };

  /** Lets the raise promises settle. */
  const settle = () => Promise.resolve().then(() => undefined);

  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
    raised = [];
    cleared = [];
    nextId = 1;
    lose = false;
    sut = new AlarmEvaluator(actions);
  });

  afterEach(() => {
    sut.close();
    jest.useRealTimers();
  });

  it('raises above the threshold at once when forMs is 0, and a value exactly at it neither raises nor clears', async () => {
    sut.load([rule({ kind: 'above', key: 't', threshold: 24 })], profiles, []);
    sut.telemetry('d1', { t: 24 });
    expect(raised).toHaveLength(0);
    sut.telemetry('d1', { t: 24.5 });
    await settle();
    expect(raised).toEqual([{ ruleId: 'r1', deviceId: 'd1', message: 't 24.5 above 24', at: 0 }]);
    sut.telemetry('d1', { t: 25 });
    await settle();
    expect(raised).toHaveLength(1);
    // Without hysteresis, back at the threshold ends it.
    sut.telemetry('d1', { t: 24 });
    expect(cleared).toEqual([{ alarmId: '1', message: 't 24 back within bounds', at: 0 }]);
  });

  it('clears only once the value is back by the hysteresis', async () => {
    sut.load([rule({ kind: 'above', key: 't', threshold: 24, hysteresis: 1 })], profiles, []);
    sut.telemetry('d1', { t: 25 });
    await settle();
    expect(raised).toHaveLength(1);
    sut.telemetry('d1', { t: 23.5 });
    sut.telemetry('d1', { t: 24.5 });
    expect(cleared).toHaveLength(0);
    sut.telemetry('d1', { t: 23 });
    expect(cleared.map((c) => c.alarmId)).toEqual(['1']);
    // It ended: a value above the threshold raises a new alarm.
    sut.telemetry('d1', { t: 24.1 });
    await settle();
    expect(raised).toHaveLength(2);
  });

  it('raises after forMs of holding, not a millisecond before, and not when it ends in time', async () => {
    sut.load([rule({ kind: 'above', key: 't', threshold: 24, forMs: 10_000 })], profiles, []);
    sut.telemetry('d1', { t: 25 });
    jest.advanceTimersByTime(9_999);
    await settle();
    expect(raised).toHaveLength(0);
    jest.advanceTimersByTime(1);
    await settle();
    expect(raised).toEqual([{ ruleId: 'r1', deviceId: 'd1', message: 't 25 above 24 for 10 s', at: 10_000 }]);

    sut.telemetry('d1', { t: 20 });
    expect(cleared).toHaveLength(1);
    sut.telemetry('d1', { t: 26 });
    jest.advanceTimersByTime(5_000);
    sut.telemetry('d1', { t: 23 });
    jest.advanceTimersByTime(60_000);
    await settle();
    expect(raised).toHaveLength(1);
  });

  it('ignores values that are not finite numbers and messages without the key', async () => {
    sut.load([rule({ kind: 'above', key: 't', threshold: 24, forMs: 1_000 })], profiles, []);
    sut.telemetry('d1', { t: 30 });
    sut.telemetry('d1', { t: 'cold' });
    sut.telemetry('d1', { other: 1 });
    sut.telemetry('d1', { t: null });
    jest.advanceTimersByTime(1_000);
    await settle();
    expect(raised).toHaveLength(1);
    sut.telemetry('d1', { t: true });
    expect(cleared).toHaveLength(0);
  });

  it('mirrors below and outside', async () => {
    sut.load(
      [
        rule({ kind: 'below', key: 'p', threshold: 10, hysteresis: 2 }, { id: 'low' }),
        rule({ kind: 'outside', key: 'h', low: 20, high: 60, hysteresis: 5 }, { id: 'band' }),
      ],
      profiles,
      [],
    );
    sut.telemetry('d1', { p: 9, h: 61 });
    await settle();
    expect(raised.map((r) => r.ruleId).sort()).toEqual(['band', 'low']);
    sut.telemetry('d1', { p: 11, h: 58 });
    expect(cleared).toHaveLength(0);
    sut.telemetry('d1', { p: 12, h: 55 });
    expect(cleared).toHaveLength(2);
    sut.telemetry('d1', { h: 19 });
    await settle();
    expect(raised).toHaveLength(3);
  });

  it('applies a rule to a model or a label selector, and to no other device', async () => {
    sut.load(
      [
        rule({ kind: 'above', key: 't', threshold: 0 }, { id: 'model', target: { modelId: 'thermostat' } }),
        rule({ kind: 'above', key: 't', threshold: 0 }, { id: 'site', target: { labels: 'site=b' } }),
      ],
      profiles,
      [],
    );
    sut.telemetry('d1', { t: 1 });
    sut.telemetry('d2', { t: 1 });
    sut.telemetry('d3', { t: 1 });
    await settle();
    expect(raised.map((r) => `${r.ruleId}/${r.deviceId}`).sort()).toEqual(['model/d1', 'model/d2', 'site/d2']);
  });

  it('raises an offline alarm after forMs offline, and clears it when the device is back', async () => {
    sut.load([rule({ kind: 'offline', forMs: 60_000 })], profiles, ['d1']);
    sut.status('d1', false);
    jest.advanceTimersByTime(59_999);
    await settle();
    expect(raised).toHaveLength(0);
    sut.status('d1', true);
    jest.advanceTimersByTime(120_000);
    await settle();
    expect(raised).toHaveLength(0);
    sut.status('d1', false);
    jest.advanceTimersByTime(60_000);
    await settle();
    // Offline again at 179,999: the duration counts from there.
    expect(raised).toEqual([{ ruleId: 'r1', deviceId: 'd1', message: 'd1 offline for 60 s', at: 239_999 }]);
    sut.status('d1', true);
    expect(cleared).toEqual([{ alarmId: '1', message: 'd1 is back online', at: 239_999 }]);
  });

  it('times a device offline at load from the load', async () => {
    sut.load([rule({ kind: 'offline', forMs: 1_000 })], profiles, []);
    jest.advanceTimersByTime(1_000);
    await settle();
    expect(raised.map((r) => r.at)).toEqual([1_000]);
  });

  it('raises a silent alarm when no telemetry came for forMs, counted from the last message', async () => {
    sut.load([rule({ kind: 'silent', forMs: 30_000 }, { target: { labels: 'site=a' } })], profiles, []);
    jest.advanceTimersByTime(20_000);
    sut.telemetry('d1', { anything: 'x' });
    jest.advanceTimersByTime(29_999);
    await settle();
    expect(raised).toHaveLength(0);
    jest.advanceTimersByTime(1);
    await settle();
    expect(raised).toEqual([{ ruleId: 'r1', deviceId: 'd1', message: 'no telemetry from d1 for 30 s', at: 50_000 }]);
    sut.telemetry('d1', { anything: 'y' });
    expect(cleared.map((c) => c.message)).toEqual(['d1 sends telemetry again']);
    jest.advanceTimersByTime(30_000);
    await settle();
    expect(raised).toHaveLength(2);
  });

  it('after a clear by hand, raises again only once the condition ended and came back', async () => {
    sut.load([rule({ kind: 'above', key: 't', threshold: 24 })], profiles, []);
    sut.telemetry('d1', { t: 30 });
    await settle();
    sut.alarm({
      alarmId: '1',
      ruleId: 'r1',
      ruleName: 'hot',
      deviceId: 'd1',
      severity: 'major',
      status: 'cleared',
      by: 'op',
      message: 'x',
      ts: T0,
    });
    sut.telemetry('d1', { t: 31 });
    await settle();
    expect(raised).toHaveLength(1);
    sut.telemetry('d1', { t: 20 });
    expect(cleared).toHaveLength(0);
    sut.telemetry('d1', { t: 30 });
    await settle();
    expect(raised).toHaveLength(2);
  });

  it('when another replica raised first, takes its alarm from the log and clears that one', async () => {
    lose = true;
    sut.load([rule({ kind: 'above', key: 't', threshold: 24 })], profiles, []);
    sut.telemetry('d1', { t: 30 });
    await settle();
    sut.alarm({
      alarmId: '77',
      ruleId: 'r1',
      ruleName: 'hot',
      deviceId: 'd1',
      severity: 'major',
      status: 'raised',
      message: 'x',
      ts: T0,
    });
    sut.telemetry('d1', { t: 30 });
    await settle();
    expect(raised).toHaveLength(1);
    sut.telemetry('d1', { t: 1 });
    expect(cleared.map((c) => c.alarmId)).toEqual(['77']);
  });

  it('clears an alarm whose condition ended while it was being stored', async () => {
    sut.load([rule({ kind: 'above', key: 't', threshold: 24 })], profiles, []);
    sut.telemetry('d1', { t: 30 });
    sut.telemetry('d1', { t: 1 });
    await settle();
    expect(raised).toHaveLength(1);
    expect(cleared.map((c) => c.alarmId)).toEqual(['1']);
  });

  it('forgets a pending duration when its rule is deleted or edited, and keeps an open alarm of an edited rule', async () => {
    const first = rule({ kind: 'above', key: 't', threshold: 24, forMs: 10_000 });
    sut.load([first], profiles, []);
    sut.telemetry('d1', { t: 30 });
    jest.advanceTimersByTime(5_000);
    sut.setRules([]);
    jest.advanceTimersByTime(10_000);
    await settle();
    expect(raised).toHaveLength(0);

    sut.setRules([first]);
    sut.telemetry('d1', { t: 30 });
    jest.advanceTimersByTime(5_000);
    const edited = { ...first, condition: { ...first.condition, threshold: 40 }, updatedAt: T0 + 1 } as AlarmRule;
    sut.setRules([edited]);
    jest.advanceTimersByTime(10_000);
    await settle();
    expect(raised).toHaveLength(0);

    sut.telemetry('d1', { t: 41 });
    jest.advanceTimersByTime(10_000);
    await settle();
    expect(raised).toHaveLength(1);
    // Edited again while the alarm is open: it stays until the new condition ends.
    sut.setRules([{ ...edited, condition: { ...edited.condition, threshold: 50 }, updatedAt: T0 + 2 } as AlarmRule]);
    expect(sut.stale()).toEqual([]);
    sut.telemetry('d1', { t: 45 });
    expect(cleared.map((c) => c.alarmId)).toEqual(['1']);
  });

  it('reports the open alarms of a disabled rule as stale', async () => {
    const r = rule({ kind: 'above', key: 't', threshold: 24 });
    sut.load([r], profiles, []);
    sut.telemetry('d1', { t: 30 });
    await settle();
    sut.setRules([{ ...r, enabled: false, updatedAt: T0 + 1 }]);
    expect(sut.stale().map((s) => s.alarmId)).toEqual(['1']);
  });

  it('takes the open alarms read from storage, and forgets those cleared meanwhile', async () => {
    sut.load([rule({ kind: 'above', key: 't', threshold: 24 })], profiles, []);
    sut.opened([{ id: '5', ruleId: 'r1', deviceId: 'd1' }]);
    sut.telemetry('d1', { t: 30 });
    await settle();
    expect(raised).toHaveLength(0);
    // Read again after a resync: it was cleared by another replica, so the condition raises a new one.
    sut.opened([]);
    sut.telemetry('d1', { t: 31 });
    await settle();
    expect(raised).toHaveLength(1);
  });

  it('follows at most its bound of pairs', async () => {
    sut = new AlarmEvaluator(actions, 1);
    sut.load([rule({ kind: 'above', key: 't', threshold: 0 }, { target: { modelId: 'thermostat' } })], profiles, []);
    sut.telemetry('d1', { t: 1 });
    sut.telemetry('d2', { t: 1 });
    await settle();
    expect(raised.map((r) => r.deviceId)).toEqual(['d1']);
    expect(sut.dropped).toBe(1);
  });
});
