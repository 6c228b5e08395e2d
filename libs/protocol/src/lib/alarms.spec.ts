import { MAX_ALARM_FOR_MS, alarmActionSchema, alarmRuleRequestSchema, listAlarmsQuerySchema } from './alarms';

const rule = {
  name: 'too warm',
  severity: 'major',
  target: { labels: 'site=a,floor=2' },
  condition: { kind: 'above', key: 'temperature', threshold: 24 },
};

describe('alarmRuleRequestSchema', () => {
  it('fills the defaults: enabled, no hysteresis, no duration', () => {
    expect(alarmRuleRequestSchema.parse(rule)).toEqual({
      ...rule,
      enabled: true,
      condition: { kind: 'above', key: 'temperature', threshold: 24, hysteresis: 0, forMs: 0 },
    });
  });

  it.each([
    ['two targets', { target: { deviceId: 'd1', modelId: 'm' } }],
    ['no target', { target: {} }],
    ['a bad selector', { target: { labels: 'site' } }],
    ['a name too long', { name: 'x'.repeat(129) }],
    ['an unknown severity', { severity: 'fatal' }],
    ['an infinite threshold', { condition: { kind: 'above', key: 't', threshold: Infinity } }],
    ['a negative hysteresis', { condition: { kind: 'below', key: 't', threshold: 1, hysteresis: -1 } }],
    ['a duration past 7 days', { condition: { kind: 'above', key: 't', threshold: 1, forMs: MAX_ALARM_FOR_MS + 1 } }],
    ['low above high', { condition: { kind: 'outside', key: 't', low: 5, high: 1 } }],
    [
      'a hysteresis wider than the band',
      { condition: { kind: 'outside', key: 't', low: 1, high: 2, hysteresis: 0.6 } },
    ],
    ['an offline rule without a duration', { condition: { kind: 'offline', forMs: 0 } }],
    ['an unknown kind', { condition: { kind: 'between', key: 't' } }],
    ['a bad key', { condition: { kind: 'above', key: '1 bad', threshold: 1 } }],
    ['an unknown field', { extra: true }],
  ])('refuses %s', (_what, change) => {
    expect(alarmRuleRequestSchema.safeParse({ ...rule, ...change }).success).toBe(false);
  });

  it('takes every target and condition kind', () => {
    for (const target of [{ deviceId: 'd1' }, { modelId: 'acme.thermostat' }, { labels: 'site=a' }]) {
      for (const condition of [
        { kind: 'below', key: 't', threshold: -3.5, hysteresis: 1, forMs: 10_000 },
        { kind: 'outside', key: 't', low: 1, high: 2 },
        { kind: 'offline', forMs: MAX_ALARM_FOR_MS },
        { kind: 'silent', forMs: 60_000 },
      ]) {
        expect(alarmRuleRequestSchema.safeParse({ ...rule, target, condition }).success).toBe(true);
      }
    }
  });
});

describe('listAlarmsQuerySchema and alarmActionSchema', () => {
  it('reads the filters of a query string', () => {
    expect(listAlarmsQuerySchema.parse({ active: 'true', severity: 'critical', cursor: '12' })).toEqual({
      active: true,
      severity: 'critical',
      cursor: '12',
      limit: 100,
    });
    expect(listAlarmsQuerySchema.safeParse({ cursor: 'abc' }).success).toBe(false);
    expect(listAlarmsQuerySchema.safeParse({ limit: '501' }).success).toBe(false);
  });

  it('bounds a note', () => {
    expect(alarmActionSchema.parse({})).toEqual({});
    expect(alarmActionSchema.safeParse({ note: 'x'.repeat(1025) }).success).toBe(false);
  });
});
