import { alarmRuleRequestSchema, type AlarmRuleView, type DeviceModel } from '@iot/protocol';
import {
  describeCondition,
  EMPTY_RULE_FORM,
  numericKeys,
  ruleFormValue,
  type RuleFormValue,
  ruleRequest,
} from './rule-form';

const form = (overrides: Partial<RuleFormValue>): RuleFormValue => ({ ...EMPTY_RULE_FORM, ...overrides });

function requestOf(value: RuleFormValue) {
  const result = ruleRequest(value);
  if (!('request' in result)) throw new Error(`refused: ${result.problems.join('; ')}`);
  return result.request;
}

describe('rule form', () => {
  it('makes "temperature above 24 for 10 s" on a model, a request the protocol schema accepts', () => {
    const sut = requestOf(
      form({ name: ' Too hot ', modelId: 'sim.thermostat', key: 'temperature', threshold: '24', forSeconds: '10' }),
    );

    expect(sut).toEqual({
      name: 'Too hot',
      severity: 'major',
      enabled: true,
      target: { modelId: 'sim.thermostat' },
      condition: { kind: 'above', key: 'temperature', threshold: 24, hysteresis: 0, forMs: 10_000 },
    });
    expect(alarmRuleRequestSchema.safeParse(sut).success).toBe(true);
  });

  it.each<[string, Partial<RuleFormValue>, object, object]>([
    [
      'below on a device',
      {
        targetKind: 'device',
        deviceId: 'boiler-1',
        conditionKind: 'below',
        key: 'humidity',
        threshold: '30',
        hysteresis: '1.5',
      },
      { deviceId: 'boiler-1' },
      { kind: 'below', key: 'humidity', threshold: 30, hysteresis: 1.5, forMs: 0 },
    ],
    [
      'outside on labels',
      {
        targetKind: 'labels',
        labels: 'site=a,floor=2',
        conditionKind: 'outside',
        key: 'co2',
        low: '400',
        high: '1200',
        forSeconds: '2.5',
      },
      { labels: 'site=a,floor=2' },
      { kind: 'outside', key: 'co2', low: 400, high: 1200, hysteresis: 0, forMs: 2_500 },
    ],
    [
      'offline for 5 minutes',
      { modelId: 'm', conditionKind: 'offline', forSeconds: '300', key: 'ignored', threshold: 'x' },
      { modelId: 'm' },
      { kind: 'offline', forMs: 300_000 },
    ],
    [
      'no telemetry for a minute',
      { modelId: 'm', conditionKind: 'silent', forSeconds: '60' },
      { modelId: 'm' },
      { kind: 'silent', forMs: 60_000 },
    ],
  ])('makes %s, as the schema takes it', (_name, overrides, target, condition) => {
    const sut = requestOf(form({ name: 'r', ...overrides }));

    expect(sut.target).toEqual(target);
    expect(sut.condition).toEqual(condition);
    expect(alarmRuleRequestSchema.parse(sut)).toEqual(sut);
  });

  it.each<[string, Partial<RuleFormValue>, RegExp]>([
    ['an empty name', { name: '  ', modelId: 'm', key: 't', threshold: '1' }, /name/],
    ['a threshold that is not a number', { name: 'r', modelId: 'm', key: 't', threshold: 'hot' }, /threshold/],
    ['a missing threshold', { name: 'r', modelId: 'm', key: 't', threshold: '' }, /threshold/],
    ['a key that is not a telemetry key', { name: 'r', modelId: 'm', key: 'a b', threshold: '1' }, /key/],
    ['low above high', { name: 'r', modelId: 'm', conditionKind: 'outside', key: 't', low: '5', high: '1' }, /low/],
    ['a negative hysteresis', { name: 'r', modelId: 'm', key: 't', threshold: '1', hysteresis: '-1' }, /hysteresis/],
    ['offline for 0 s', { name: 'r', modelId: 'm', conditionKind: 'offline', forSeconds: '0' }, /forMs/],
    [
      'a bad label selector',
      { name: 'r', targetKind: 'labels', labels: 'site', key: 't', threshold: '1' },
      /label selector/,
    ],
    ['more than 7 days', { name: 'r', modelId: 'm', key: 't', threshold: '1', forSeconds: '604801' }, /forMs/],
  ])('refuses %s, saying what is wrong', (_name, overrides, problem) => {
    const sut = ruleRequest(form(overrides));

    expect('problems' in sut && sut.problems.join('\n')).toMatch(problem);
  });

  it('reads a saved rule back into the form it came from', () => {
    const rule: AlarmRuleView = {
      id: 'r1',
      name: 'Band',
      severity: 'minor',
      enabled: false,
      target: { labels: 'site=a' },
      condition: { kind: 'outside', key: 'co2', low: 400, high: 1000, hysteresis: 10, forMs: 1_500 },
      createdAt: 1,
      updatedAt: 1,
    };

    const sut = ruleFormValue(rule);

    expect(requestOf(sut)).toEqual({
      name: 'Band',
      severity: 'minor',
      enabled: false,
      target: rule.target,
      condition: rule.condition,
    });
    expect(describeCondition(rule.condition)).toBe('co2 outside 400–1000 for 1.5 s (hysteresis 10)');
  });

  it('offers the numeric keys of a model with their titles and units', () => {
    const model = {
      telemetry: {
        temperature: { type: 'number', title: 'Temperature', unit: '°C' },
        heating: { type: 'boolean' },
        count: { type: 'integer' },
      },
    } as unknown as DeviceModel;

    expect(numericKeys(model)).toEqual([
      { key: 'count', label: 'count' },
      { key: 'temperature', label: 'Temperature · temperature (°C)' },
    ]);
    expect(numericKeys(null)).toEqual([]);
  });
});
