import * as z from 'zod';
import { TELEMETRY_KEY_PATTERN } from './limits';
import { deviceIdSchema, labelSelectorSchema } from './api';

/** How bad an alarm is, worst first. */
export const ALARM_SEVERITIES = ['critical', 'major', 'minor', 'warning'] as const;
export const alarmSeveritySchema = z.enum(ALARM_SEVERITIES);
export type AlarmSeverity = z.infer<typeof alarmSeveritySchema>;

/** True when `a` is at least as bad as `b`. */
export function isAtLeastAsSevere(a: AlarmSeverity, b: AlarmSeverity): boolean {
  return ALARM_SEVERITIES.indexOf(a) <= ALARM_SEVERITIES.indexOf(b);
}

/**
 * An alarm's lifecycle: `raised` by its rule, `acknowledged` by a user (with
 * a note), `cleared` by the condition ending or by a user. A cleared alarm is
 * closed; the rule raises a new one when its condition holds again.
 */
export const ALARM_STATUSES = ['raised', 'acknowledged', 'cleared'] as const;
export const alarmStatusSchema = z.enum(ALARM_STATUSES);
export type AlarmStatus = z.infer<typeof alarmStatusSchema>;

/**
 * The `alarm` stream event: one per transition of an alarm, stored in the
 * event log with a seq like every device event, so it resumes through
 * `Last-Event-ID` and reaches every replica's streams.
 */
export const alarmEventSchema = z.object({
  alarmId: z.string(),
  ruleId: z.string(),
  ruleName: z.string(),
  deviceId: z.string(),
  severity: alarmSeveritySchema,
  /** The status this transition entered. */
  status: alarmStatusSchema,
  /** Who made the transition: a username, or absent when the rule's condition did. */
  by: z.string().optional(),
  note: z.string().optional(),
  /** The telemetry key and value that raised or cleared it, where a value did. */
  key: z.string().optional(),
  value: z.unknown().optional(),
  /** A one-line description, such as `temperature 24.6 above 24 for 10 s`. */
  message: z.string(),
  ts: z.number(),
});
export type AlarmEvent = z.infer<typeof alarmEventSchema>;

/** Alarm rules at most. */
export const MAX_ALARM_RULES = 1000;
/** A rule's name, at most this many characters. */
export const MAX_ALARM_RULE_NAME = 128;
/** A note on an acknowledgement or a clear, at most this many characters. */
export const MAX_ALARM_NOTE = 1024;
/** The longest a condition may have to hold (`forMs`): 7 days. */
export const MAX_ALARM_FOR_MS = 7 * 86_400_000;

const finite = z.number().refine(Number.isFinite, 'a finite number');
const forMs = z.number().int().min(0).max(MAX_ALARM_FOR_MS);
const telemetryKey = z.string().regex(TELEMETRY_KEY_PATTERN, 'a telemetry key');

/**
 * What a rule watches: one device, every device of a model, or every device
 * whose labels match a selector (`site=a,floor=2`, the syntax of `labels=`
 * in `GET /devices`, kept as the text given).
 */
export const alarmTargetSchema = z.union([
  z.strictObject({ deviceId: deviceIdSchema }),
  z.strictObject({ modelId: z.string().min(1).max(64) }),
  z.strictObject({
    labels: z
      .string()
      .max(2048)
      .refine(
        (text) => labelSelectorSchema.safeParse(text).success,
        'a label selector: key=value pairs joined by commas',
      ),
  }),
]);
export type AlarmTarget = z.infer<typeof alarmTargetSchema>;

/**
 * A rule's condition. `above` holds once the value is above `threshold` and
 * raises after it has held `forMs`; it ends when the value is at or below
 * `threshold - hysteresis`. `below` mirrors it; `outside` holds below `low` or
 * above `high` and ends back inside by `hysteresis`. A value that is not a
 * number, or a message without the key, changes nothing. `offline` holds while
 * the device is offline, `silent` while it sends no telemetry; each raises
 * after `forMs`.
 */
export const alarmConditionSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('above'),
    key: telemetryKey,
    threshold: finite,
    hysteresis: finite.min(0).default(0),
    forMs: forMs.default(0),
  }),
  z.strictObject({
    kind: z.literal('below'),
    key: telemetryKey,
    threshold: finite,
    hysteresis: finite.min(0).default(0),
    forMs: forMs.default(0),
  }),
  z
    .strictObject({
      kind: z.literal('outside'),
      key: telemetryKey,
      low: finite,
      high: finite,
      hysteresis: finite.min(0).default(0),
      forMs: forMs.default(0),
    })
    .refine((c) => c.low <= c.high, 'low must not be above high')
    .refine((c) => c.high - c.low >= 2 * c.hysteresis, 'the hysteresis must leave room between low and high'),
  z.strictObject({ kind: z.literal('offline'), forMs: forMs.min(1) }),
  z.strictObject({ kind: z.literal('silent'), forMs: forMs.min(1) }),
]);
export type AlarmCondition = z.infer<typeof alarmConditionSchema>;
export type AlarmConditionInput = z.input<typeof alarmConditionSchema>;

/** `POST /alarm-rules` and `PUT /alarm-rules/{id}`: a rule, whole. */
export const alarmRuleRequestSchema = z.strictObject({
  name: z.string().trim().min(1).max(MAX_ALARM_RULE_NAME),
  severity: alarmSeveritySchema,
  enabled: z.boolean().default(true),
  target: alarmTargetSchema,
  condition: alarmConditionSchema,
});
export type AlarmRuleRequest = z.input<typeof alarmRuleRequestSchema>;
export type AlarmRuleInput = z.infer<typeof alarmRuleRequestSchema>;

export const alarmRuleViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  severity: alarmSeveritySchema,
  enabled: z.boolean(),
  target: alarmTargetSchema,
  condition: alarmConditionSchema,
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type AlarmRuleView = z.infer<typeof alarmRuleViewSchema>;

export const alarmRuleListResponseSchema = z.object({ items: z.array(alarmRuleViewSchema) });
/** `GET /alarm-rules`: every rule (at most MAX_ALARM_RULES), by name. */
export type AlarmRuleListResponse = z.infer<typeof alarmRuleListResponseSchema>;

export const alarmViewSchema = z.object({
  id: z.string(),
  ruleId: z.string(),
  ruleName: z.string(),
  deviceId: z.string(),
  severity: alarmSeveritySchema,
  status: alarmStatusSchema,
  /** What raised it, such as `temperature 24.6 above 24 for 10 s`. */
  message: z.string(),
  raisedAt: z.number(),
  acknowledgedAt: z.number().nullable(),
  acknowledgedBy: z.string().nullable(),
  clearedAt: z.number().nullable(),
  /** Who cleared it by hand; null when its condition ended (or while open). */
  clearedBy: z.string().nullable(),
});
export type AlarmView = z.infer<typeof alarmViewSchema>;

export const alarmTransitionSchema = z.object({
  status: alarmStatusSchema,
  ts: z.number(),
  by: z.string().nullable(),
  note: z.string().nullable(),
  message: z.string(),
});
export type AlarmTransitionView = z.infer<typeof alarmTransitionSchema>;

export const alarmWithHistorySchema = alarmViewSchema.extend({ transitions: z.array(alarmTransitionSchema) });
/** `GET /alarms/{id}`: the alarm and each of its transitions, oldest first. */
export type AlarmWithHistory = z.infer<typeof alarmWithHistorySchema>;

export const alarmListResponseSchema = z.object({ items: z.array(alarmViewSchema), nextCursor: z.string().nullable() });
/** `GET /alarms`: newest first, one page. */
export type AlarmListResponse = z.infer<typeof alarmListResponseSchema>;

/** `GET /alarms`: filters, newest first, paged. `active=true`: raised or acknowledged. */
export const listAlarmsQuerySchema = z.object({
  status: alarmStatusSchema.optional(),
  active: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  deviceId: deviceIdSchema.optional(),
  ruleId: z.string().max(64).optional(),
  severity: alarmSeveritySchema.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, 'a cursor from nextCursor')
    .optional(),
});
export type ListAlarmsQuery = z.infer<typeof listAlarmsQuerySchema>;

/** `POST /alarms/{id}/acknowledge` and `POST /alarms/{id}/clear`. */
export const alarmActionSchema = z.strictObject({ note: z.string().max(MAX_ALARM_NOTE).optional() });
export type AlarmActionRequest = z.infer<typeof alarmActionSchema>;
