import { ALARM_SEVERITIES, type AlarmEvent, type AlarmView } from '@iot/protocol';
import type { AlarmFilter } from './alarms-api';

/** Whether an alarm is open: raised or acknowledged. */
export const isOpen = (alarm: Pick<AlarmView, 'status'>) => alarm.status !== 'cleared';

/**
 * An alarm after one of its transitions, as the stream tells it; a `raised`
 * event for an alarm not known yet makes a new one. An event older than what
 * is known (a status the alarm is already past) changes nothing.
 */
export function applyAlarmEvent(alarm: AlarmView | undefined, event: AlarmEvent): AlarmView | undefined {
  if (!alarm) {
    if (event.status !== 'raised') return undefined;
    return {
      id: event.alarmId,
      ruleId: event.ruleId,
      ruleName: event.ruleName,
      deviceId: event.deviceId,
      severity: event.severity,
      status: 'raised',
      message: event.message,
      raisedAt: event.ts,
      acknowledgedAt: null,
      acknowledgedBy: null,
      clearedAt: null,
      clearedBy: null,
    };
  }
  switch (event.status) {
    case 'raised':
      return alarm;
    case 'acknowledged':
      if (alarm.status !== 'raised') return alarm;
      return { ...alarm, status: 'acknowledged', acknowledgedAt: event.ts, acknowledgedBy: event.by ?? null };
    case 'cleared':
      if (alarm.status === 'cleared') return alarm;
      return { ...alarm, status: 'cleared', clearedAt: event.ts, clearedBy: event.by ?? null };
  }
}

/** Whether an alarm belongs in a list filtered by `filter`. */
export function matchesFilter(alarm: AlarmView, filter: AlarmFilter): boolean {
  if (filter.status && alarm.status !== filter.status) return false;
  if (filter.active !== undefined && isOpen(alarm) !== filter.active) return false;
  if (filter.severity && alarm.severity !== filter.severity) return false;
  if (filter.deviceId?.trim() && alarm.deviceId !== filter.deviceId.trim()) return false;
  if (filter.ruleId?.trim() && alarm.ruleId !== filter.ruleId.trim()) return false;
  return true;
}

/** Open alarms first, then the worst, then the newest. */
export function compareAlarms(a: AlarmView, b: AlarmView): number {
  return (
    Number(isOpen(b)) - Number(isOpen(a)) ||
    ALARM_SEVERITIES.indexOf(a.severity) - ALARM_SEVERITIES.indexOf(b.severity) ||
    b.raisedAt - a.raisedAt ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}
