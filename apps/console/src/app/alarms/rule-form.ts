import {
  type AlarmRuleRequest,
  alarmRuleRequestSchema,
  type AlarmRuleView,
  type AlarmSeverity,
  type DeviceModel,
} from '@iot/protocol';

export type TargetKind = 'model' | 'device' | 'labels';
export type ConditionKind = 'above' | 'below' | 'outside' | 'offline' | 'silent';
export const CONDITION_KINDS: readonly ConditionKind[] = ['above', 'below', 'outside', 'offline', 'silent'];
export const CONDITION_LABELS: Record<ConditionKind, string> = {
  above: 'above a threshold',
  below: 'below a threshold',
  outside: 'outside a range',
  offline: 'offline',
  silent: 'no telemetry',
};

/** The rule form as typed: numbers are text until the form is read. */
export interface RuleFormValue {
  name: string;
  severity: AlarmSeverity;
  enabled: boolean;
  targetKind: TargetKind;
  deviceId: string;
  modelId: string;
  labels: string;
  conditionKind: ConditionKind;
  key: string;
  threshold: string;
  low: string;
  high: string;
  hysteresis: string;
  /** How long the condition has to hold, seconds. */
  forSeconds: string;
}

export const EMPTY_RULE_FORM: RuleFormValue = {
  name: '',
  severity: 'major',
  enabled: true,
  targetKind: 'model',
  deviceId: '',
  modelId: '',
  labels: '',
  conditionKind: 'above',
  key: '',
  threshold: '',
  low: '',
  high: '',
  hysteresis: '0',
  forSeconds: '0',
};

/** A telemetry key a rule may watch, from a model. */
export interface KeyChoice {
  key: string;
  /** `Temperature (°C)`, or the key. */
  label: string;
}

/** The numeric telemetry keys of a model, by key. */
export function numericKeys(model: DeviceModel | null | undefined): KeyChoice[] {
  if (!model) return [];
  return Object.entries(model.telemetry ?? {})
    .filter(([, spec]) => spec.type === 'number' || spec.type === 'integer')
    .map(([key, spec]) => {
      const title = spec.title ?? key;
      return { key, label: `${title}${title === key ? '' : ` · ${key}`}${spec.unit ? ` (${spec.unit})` : ''}` };
    })
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Text as a number: empty or not a finite number is NaN, which the schema refuses with a message. */
function num(text: string): number {
  const trimmed = text.trim();
  return trimmed === '' ? Number.NaN : Number(trimmed);
}

/**
 * The request for the form, checked against the protocol's own schema: the
 * rule, or the messages saying what is wrong (the api would refuse it alike).
 */
export function ruleRequest(form: RuleFormValue): { request: AlarmRuleRequest } | { problems: string[] } {
  const target =
    form.targetKind === 'device'
      ? { deviceId: form.deviceId.trim() }
      : form.targetKind === 'model'
        ? { modelId: form.modelId.trim() }
        : { labels: form.labels.trim() };
  const forMs = Math.round(num(form.forSeconds) * 1000);
  const key = form.key.trim();
  const hysteresis = num(form.hysteresis || '0');
  const condition =
    form.conditionKind === 'above' || form.conditionKind === 'below'
      ? { kind: form.conditionKind, key, threshold: num(form.threshold), hysteresis, forMs }
      : form.conditionKind === 'outside'
        ? { kind: 'outside' as const, key, low: num(form.low), high: num(form.high), hysteresis, forMs }
        : { kind: form.conditionKind, forMs };
  const parsed = alarmRuleRequestSchema.safeParse({
    name: form.name.trim(),
    severity: form.severity,
    enabled: form.enabled,
    target,
    condition,
  });
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((issue) => {
        const where = issue.path.filter((part) => typeof part === 'string').join(' ');
        return where ? `${where}: ${issue.message}` : issue.message;
      }),
    };
  }
  return { request: parsed.data };
}

/** The form for an existing rule. */
export function ruleFormValue(rule: AlarmRuleView): RuleFormValue {
  const form: RuleFormValue = { ...EMPTY_RULE_FORM, name: rule.name, severity: rule.severity, enabled: rule.enabled };
  if ('deviceId' in rule.target) Object.assign(form, { targetKind: 'device', deviceId: rule.target.deviceId });
  else if ('modelId' in rule.target) Object.assign(form, { targetKind: 'model', modelId: rule.target.modelId });
  else Object.assign(form, { targetKind: 'labels', labels: rule.target.labels });
  const condition = rule.condition;
  form.conditionKind = condition.kind;
  form.forSeconds = String(condition.forMs / 1000);
  if (condition.kind === 'above' || condition.kind === 'below') {
    Object.assign(form, {
      key: condition.key,
      threshold: String(condition.threshold),
      hysteresis: String(condition.hysteresis),
    });
  } else if (condition.kind === 'outside') {
    Object.assign(form, {
      key: condition.key,
      low: String(condition.low),
      high: String(condition.high),
      hysteresis: String(condition.hysteresis),
    });
  }
  return form;
}

/** `deviceId boiler-1`, `model sim.thermostat`, `labels site=a`. */
export function describeTarget(target: AlarmRuleView['target']): string {
  if ('deviceId' in target) return `device ${target.deviceId}`;
  if ('modelId' in target) return `model ${target.modelId}`;
  return `labels ${target.labels}`;
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

/** `temperature above 24 for 10 s`, `offline for 5 min`. */
export function describeCondition(condition: AlarmRuleView['condition']): string {
  const hold = condition.forMs > 0 ? ` for ${seconds(condition.forMs)}` : '';
  switch (condition.kind) {
    case 'above':
    case 'below':
      return `${condition.key} ${condition.kind} ${condition.threshold}${hold}${condition.hysteresis ? ` (hysteresis ${condition.hysteresis})` : ''}`;
    case 'outside':
      return `${condition.key} outside ${condition.low}–${condition.high}${hold}${condition.hysteresis ? ` (hysteresis ${condition.hysteresis})` : ''}`;
    case 'offline':
      return `offline${hold}`;
    case 'silent':
      return `no telemetry${hold}`;
  }
}
