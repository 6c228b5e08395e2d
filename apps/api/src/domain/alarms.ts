import type { AlarmCondition, AlarmSeverity, AlarmStatus, AlarmTarget } from '@iot/protocol';

/** An alarm rule as stored. */
export interface AlarmRule {
  id: string;
  name: string;
  severity: AlarmSeverity;
  enabled: boolean;
  target: AlarmTarget;
  condition: AlarmCondition;
  createdAt: number;
  updatedAt: number;
}

/** The alarm rules; at most `max` of them (MAX_ALARM_RULES). */
export abstract class AlarmRuleRepository {
  /** Every rule, by name then id. */
  abstract list(): Promise<AlarmRule[]>;
  abstract get(id: string): Promise<AlarmRule | undefined>;
  /** Stores a new rule; false when `max` rules exist already. */
  abstract insert(rule: AlarmRule, max: number): Promise<boolean>;
  /** Replaces a rule's fields (not `createdAt`); false when there is none. */
  abstract update(rule: AlarmRule): Promise<boolean>;
  abstract delete(id: string): Promise<boolean>;
}

/** An alarm as stored: what raised it and where it stands. */
export interface AlarmRecord {
  /** A decimal number, increasing: newer alarms have larger ones. */
  id: string;
  ruleId: string;
  ruleName: string;
  deviceId: string;
  severity: AlarmSeverity;
  status: AlarmStatus;
  message: string;
  raisedAt: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  clearedAt: number | null;
  clearedBy: string | null;
}

/** One step of an alarm's lifecycle. */
export interface AlarmTransition {
  status: AlarmStatus;
  ts: number;
  /** The user; null when the rule's condition made it. */
  by: string | null;
  note: string | null;
  message: string;
}

export interface NewAlarm {
  ruleId: string;
  ruleName: string;
  deviceId: string;
  severity: AlarmSeverity;
  message: string;
  ts: number;
}

export interface AlarmFilter {
  status?: AlarmStatus;
  /** True: raised or acknowledged; false: cleared. */
  active?: boolean;
  deviceId?: string;
  ruleId?: string;
  severity?: AlarmSeverity;
  /** Alarms with an id below this one (keyset paging, newest first). */
  beforeId?: string;
  limit: number;
}

/**
 * Alarms and their transitions. Each write is a compare-and-set, so api
 * replicas evaluating the same events make each transition once: a
 * (rule, device) has at most one open (raised or acknowledged) alarm, held by
 * a unique index, and a transition applies only from the status it names.
 */
export abstract class AlarmRepository {
  /** Stores a raised alarm with its first transition; undefined when the (rule, device) has an open one (or the device is gone). */
  abstract raise(alarm: NewAlarm): Promise<AlarmRecord | undefined>;
  /**
   * Moves an alarm from one of `from` to `to` with its transition; undefined
   * when it is in none of them (or does not exist).
   */
  abstract transition(
    id: string,
    from: readonly AlarmStatus[],
    to: AlarmStatus,
    step: Omit<AlarmTransition, 'status'>,
  ): Promise<AlarmRecord | undefined>;
  abstract get(id: string): Promise<AlarmRecord | undefined>;
  /** An alarm's transitions, oldest first. */
  abstract transitions(id: string): Promise<AlarmTransition[]>;
  /** Newest first. */
  abstract list(filter: AlarmFilter): Promise<AlarmRecord[]>;
  /** Open alarms (raised or acknowledged), at most `limit`, oldest first. */
  abstract open(limit: number): Promise<AlarmRecord[]>;
  /** How many open alarms each of these devices has (absent: none). */
  abstract openCounts(deviceIds: readonly string[]): Promise<Map<string, number>>;
}
