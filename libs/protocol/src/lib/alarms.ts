import * as z from 'zod';

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
