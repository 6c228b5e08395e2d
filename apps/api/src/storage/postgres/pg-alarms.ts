import { type Kysely, sql } from 'kysely';
import type { AlarmSeverity, AlarmStatus } from '@iot/protocol';
import type {
  AlarmFilter,
  AlarmRecord,
  AlarmRepository,
  AlarmRule,
  AlarmRuleRepository,
  AlarmTransition,
  NewAlarm,
} from '../../domain/alarms';
import { type AlarmRow, alarmIdOf, alarmOf } from '../sqlite-alarms';
import { jsonbSafe } from './pg-telemetry';

/** PostgreSQL text holds no NUL. */
function textSafe(text: string): string;
function textSafe(text: string | null): string | null;
function textSafe(text: string | null): string | null {
  return text !== null && text.includes('\0') ? text.replaceAll('\0', '\ufffd') : text;
}

interface RuleRow {
  id: string;
  name: string;
  severity: AlarmSeverity;
  enabled: boolean;
  target: AlarmRule['target'];
  condition: AlarmRule['condition'];
  created_at: number;
  updated_at: number;
}

function ruleOf(row: RuleRow): AlarmRule {
  return {
    id: row.id,
    name: row.name,
    severity: row.severity,
    enabled: row.enabled,
    target: row.target,
    condition: row.condition,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Alarm rules on PostgreSQL. */
export class PgAlarmRules implements AlarmRuleRepository {
  constructor(private readonly db: Kysely<unknown>) {}

  async list(): Promise<AlarmRule[]> {
    const { rows } = await sql<RuleRow>`SELECT * FROM alarm_rules ORDER BY name, id`.execute(this.db);
    return rows.map(ruleOf);
  }

  async get(id: string): Promise<AlarmRule | undefined> {
    const { rows } = await sql<RuleRow>`SELECT * FROM alarm_rules WHERE id = ${id}`.execute(this.db);
    return rows[0] && ruleOf(rows[0]);
  }

  async insert(rule: AlarmRule, max: number): Promise<boolean> {
    // One insert at a time across replicas, so that the count it checks holds.
    return this.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(1768973420)`.execute(trx); // the alarm rules' own lock
      return this.insertUnder(trx, rule, max);
    });
  }

  private async insertUnder(db: Kysely<unknown>, rule: AlarmRule, max: number): Promise<boolean> {
    const { numAffectedRows } = await sql`INSERT INTO alarm_rules
        (id, name, severity, enabled, target, condition, created_at, updated_at)
      SELECT ${rule.id}, ${textSafe(rule.name)}, ${rule.severity}, ${rule.enabled},
        ${jsonbSafe(JSON.stringify(rule.target))}::jsonb, ${jsonbSafe(JSON.stringify(rule.condition))}::jsonb,
        ${rule.createdAt}, ${rule.updatedAt}
      WHERE (SELECT count(*) FROM alarm_rules) < ${max}`.execute(db);
    return Number(numAffectedRows ?? 0) === 1;
  }

  async update(rule: AlarmRule): Promise<boolean> {
    const { numAffectedRows } = await sql`UPDATE alarm_rules SET name = ${textSafe(rule.name)},
        severity = ${rule.severity}, enabled = ${rule.enabled},
        target = ${jsonbSafe(JSON.stringify(rule.target))}::jsonb,
        condition = ${jsonbSafe(JSON.stringify(rule.condition))}::jsonb, updated_at = ${rule.updatedAt}
      WHERE id = ${rule.id}`.execute(this.db);
    return Number(numAffectedRows ?? 0) === 1;
  }

  async delete(id: string): Promise<boolean> {
    const { numAffectedRows } = await sql`DELETE FROM alarm_rules WHERE id = ${id}`.execute(this.db);
    return Number(numAffectedRows ?? 0) === 1;
  }
}

/** Alarms and their transitions on PostgreSQL: each write one statement, so it is one transaction. */
export class PgAlarms implements AlarmRepository {
  constructor(private readonly db: Kysely<unknown>) {}

  async raise(alarm: NewAlarm): Promise<AlarmRecord | undefined> {
    const message = textSafe(alarm.message);
    // The partial unique index (alarms_open) makes a second open alarm of the (rule, device) do nothing.
    const { rows } = await sql<AlarmRow>`WITH raised AS (
        INSERT INTO alarms (rule_id, rule_name, device_id, severity, status, message, raised_at)
        SELECT ${alarm.ruleId}, ${textSafe(alarm.ruleName)}, id, ${alarm.severity}, 'raised', ${message}, ${alarm.ts}
        FROM devices WHERE id = ${alarm.deviceId}
        ON CONFLICT DO NOTHING RETURNING *
      ), step AS (
        INSERT INTO alarm_transitions (alarm_id, status, ts, by, note, message)
        SELECT id, 'raised', ${alarm.ts}, NULL, NULL, ${message} FROM raised
      )
      SELECT * FROM raised`.execute(this.db);
    return rows[0] && alarmOf(rows[0]);
  }

  async transition(
    id: string,
    from: readonly AlarmStatus[],
    to: AlarmStatus,
    step: Omit<AlarmTransition, 'status'>,
  ): Promise<AlarmRecord | undefined> {
    const key = alarmIdOf(id);
    if (key === undefined) return undefined;
    const by = textSafe(step.by);
    const { rows } = await sql<AlarmRow>`WITH moved AS (
        UPDATE alarms SET status = ${to},
          acknowledged_at = CASE WHEN ${to} = 'acknowledged' THEN ${step.ts}::bigint ELSE acknowledged_at END,
          acknowledged_by = CASE WHEN ${to} = 'acknowledged' THEN ${by}::text ELSE acknowledged_by END,
          cleared_at = CASE WHEN ${to} = 'cleared' THEN ${step.ts}::bigint ELSE cleared_at END,
          cleared_by = CASE WHEN ${to} = 'cleared' THEN ${by}::text ELSE cleared_by END
        WHERE id = ${key} AND status = ANY(${[...from]}::text[])
        RETURNING *
      ), step AS (
        INSERT INTO alarm_transitions (alarm_id, status, ts, by, note, message)
        SELECT id, ${to}, ${step.ts}, ${by}, ${textSafe(step.note)}, ${textSafe(step.message)} FROM moved
      )
      SELECT * FROM moved`.execute(this.db);
    return rows[0] && alarmOf(rows[0]);
  }

  async get(id: string): Promise<AlarmRecord | undefined> {
    const key = alarmIdOf(id);
    if (key === undefined) return undefined;
    const { rows } = await sql<AlarmRow>`SELECT * FROM alarms WHERE id = ${key}`.execute(this.db);
    return rows[0] && alarmOf(rows[0]);
  }

  async transitions(id: string): Promise<AlarmTransition[]> {
    const key = alarmIdOf(id);
    if (key === undefined) return [];
    const { rows } = await sql<AlarmTransition>`SELECT status, ts, by, note, message FROM alarm_transitions
      WHERE alarm_id = ${key}
      ORDER BY ts, CASE status WHEN 'raised' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END`.execute(this.db);
    return rows;
  }

  async list(filter: AlarmFilter): Promise<AlarmRecord[]> {
    const where = [sql`true`];
    if (filter.status !== undefined) where.push(sql`status = ${filter.status}`);
    if (filter.active !== undefined) where.push(filter.active ? sql`status <> 'cleared'` : sql`status = 'cleared'`);
    if (filter.deviceId !== undefined) where.push(sql`device_id = ${filter.deviceId}`);
    if (filter.ruleId !== undefined) where.push(sql`rule_id = ${filter.ruleId}`);
    if (filter.severity !== undefined) where.push(sql`severity = ${filter.severity}`);
    if (filter.beforeId !== undefined) where.push(sql`id < ${alarmIdOf(filter.beforeId) ?? 0}`);
    const { rows } = await sql<AlarmRow>`SELECT * FROM alarms WHERE ${sql.join(where, sql` AND `)}
      ORDER BY id DESC LIMIT ${filter.limit}`.execute(this.db);
    return rows.map(alarmOf);
  }

  async open(limit: number): Promise<AlarmRecord[]> {
    const { rows } = await sql<AlarmRow>`SELECT * FROM alarms WHERE status <> 'cleared'
      ORDER BY id LIMIT ${limit}`.execute(this.db);
    return rows.map(alarmOf);
  }

  async openCounts(deviceIds: readonly string[]): Promise<Map<string, number>> {
    if (deviceIds.length === 0) return new Map();
    const { rows } = await sql<{ device_id: string; n: number }>`SELECT device_id, count(*)::int AS n FROM alarms
      WHERE device_id = ANY(${[...deviceIds]}::text[]) AND status <> 'cleared' GROUP BY device_id`.execute(this.db);
    return new Map(rows.map((row) => [row.device_id, row.n]));
  }
}
