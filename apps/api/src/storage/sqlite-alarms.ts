import type BetterSqlite3 from 'better-sqlite3';
import type { AlarmSeverity, AlarmStatus } from '@iot/protocol';
import type {
  AlarmFilter,
  AlarmRecord,
  AlarmRepository,
  AlarmRule,
  AlarmRuleRepository,
  AlarmTransition,
  NewAlarm,
} from '../domain/alarms';

interface RuleRow {
  id: string;
  name: string;
  severity: string;
  enabled: number;
  target: string;
  condition: string;
  created_at: number;
  updated_at: number;
}

export interface AlarmRow {
  id: number | string;
  rule_id: string;
  rule_name: string;
  device_id: string;
  severity: string;
  status: string;
  message: string;
  raised_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  cleared_at: number | null;
  cleared_by: string | null;
}

/** An alarm row as the domain has it (shared with PostgreSQL). */
export function alarmOf(row: AlarmRow): AlarmRecord {
  return {
    id: String(row.id),
    ruleId: row.rule_id,
    ruleName: row.rule_name,
    deviceId: row.device_id,
    severity: row.severity as AlarmSeverity,
    status: row.status as AlarmStatus,
    message: row.message,
    raisedAt: Number(row.raised_at),
    acknowledgedAt: row.acknowledged_at === null ? null : Number(row.acknowledged_at),
    acknowledgedBy: row.acknowledged_by,
    clearedAt: row.cleared_at === null ? null : Number(row.cleared_at),
    clearedBy: row.cleared_by,
  };
}

/** An alarm id as stored, or undefined for text that cannot be one. */
export function alarmIdOf(id: string): number | undefined {
  return /^\d{1,15}$/.test(id) ? Number(id) : undefined;
}

/** Alarm rules on SQLite. */
export class SqliteAlarmRules implements AlarmRuleRepository {
  private readonly statements;

  constructor(sqlite: BetterSqlite3.Database) {
    this.statements = {
      list: sqlite.prepare<[], RuleRow>('SELECT * FROM alarm_rules ORDER BY name, id'),
      get: sqlite.prepare<[string], RuleRow>('SELECT * FROM alarm_rules WHERE id = ?'),
      insert: sqlite.prepare(
        `INSERT INTO alarm_rules (id, name, severity, enabled, target, condition, created_at, updated_at)
         SELECT @id, @name, @severity, @enabled, @target, @condition, @createdAt, @updatedAt
         WHERE (SELECT count(*) FROM alarm_rules) < @max`,
      ),
      update: sqlite.prepare(
        `UPDATE alarm_rules SET name = @name, severity = @severity, enabled = @enabled, target = @target,
           condition = @condition, updated_at = @updatedAt WHERE id = @id`,
      ),
      delete: sqlite.prepare<[string]>('DELETE FROM alarm_rules WHERE id = ?'),
    };
  }

  async list(): Promise<AlarmRule[]> {
    return this.statements.list.all().map(ruleOf);
  }

  async get(id: string): Promise<AlarmRule | undefined> {
    const row = this.statements.get.get(id);
    return row && ruleOf(row);
  }

  async insert(rule: AlarmRule, max: number): Promise<boolean> {
    return this.statements.insert.run({ ...params(rule), max }).changes === 1;
  }

  async update(rule: AlarmRule): Promise<boolean> {
    return this.statements.update.run(params(rule)).changes === 1;
  }

  async delete(id: string): Promise<boolean> {
    return this.statements.delete.run(id).changes === 1;
  }
}

function params(rule: AlarmRule) {
  return {
    id: rule.id,
    name: rule.name,
    severity: rule.severity,
    enabled: rule.enabled ? 1 : 0,
    target: JSON.stringify(rule.target),
    condition: JSON.stringify(rule.condition),
    createdAt: rule.createdAt,
    updatedAt: rule.updatedAt,
  };
}

function ruleOf(row: RuleRow): AlarmRule {
  return {
    id: row.id,
    name: row.name,
    severity: row.severity as AlarmSeverity,
    enabled: row.enabled === 1,
    target: JSON.parse(row.target) as AlarmRule['target'],
    condition: JSON.parse(row.condition) as AlarmRule['condition'],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Alarms and their transitions on SQLite; each write one transaction on the store's connection. */
export class SqliteAlarms implements AlarmRepository {
  private readonly statements;
  private readonly lists = new Map<string, BetterSqlite3.Statement<unknown[], AlarmRow>>();
  private readonly raiseTx;
  private readonly transitionTx;

  constructor(private readonly sqlite: BetterSqlite3.Database) {
    this.statements = {
      raise: sqlite.prepare(
        `INSERT INTO alarms (rule_id, rule_name, device_id, severity, status, message, raised_at)
         SELECT @ruleId, @ruleName, @deviceId, @severity, 'raised', @message, @ts
         WHERE EXISTS (SELECT 1 FROM devices WHERE id = @deviceId)
         ON CONFLICT DO NOTHING`,
      ),
      step: sqlite.prepare(
        `INSERT INTO alarm_transitions (alarm_id, status, ts, by, note, message)
         VALUES (@id, @status, @ts, @by, @note, @message)`,
      ),
      move: sqlite.prepare(
        `UPDATE alarms SET status = @to,
           acknowledged_at = CASE WHEN @to = 'acknowledged' THEN @ts ELSE acknowledged_at END,
           acknowledged_by = CASE WHEN @to = 'acknowledged' THEN @by ELSE acknowledged_by END,
           cleared_at = CASE WHEN @to = 'cleared' THEN @ts ELSE cleared_at END,
           cleared_by = CASE WHEN @to = 'cleared' THEN @by ELSE cleared_by END
         WHERE id = @id AND status IN (SELECT value FROM json_each(@from))`,
      ),
      get: sqlite.prepare<[number], AlarmRow>('SELECT * FROM alarms WHERE id = ?'),
      transitions: sqlite.prepare<[number], AlarmTransition>(
        `SELECT status, ts, by, note, message FROM alarm_transitions WHERE alarm_id = ?
         ORDER BY ts, CASE status WHEN 'raised' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END`,
      ),
      open: sqlite.prepare<[number], AlarmRow>(`SELECT * FROM alarms WHERE status <> 'cleared' ORDER BY id LIMIT ?`),
      counts: sqlite.prepare<[string], { device_id: string; n: number }>(
        `SELECT device_id, count(*) AS n FROM alarms
         WHERE device_id IN (SELECT value FROM json_each(?)) AND status <> 'cleared' GROUP BY device_id`,
      ),
      deleteSteps: sqlite.prepare<[string]>(
        'DELETE FROM alarm_transitions WHERE alarm_id IN (SELECT id FROM alarms WHERE device_id = ?)',
      ),
      deleteAlarms: sqlite.prepare<[string]>('DELETE FROM alarms WHERE device_id = ?'),
    };
    this.raiseTx = sqlite.transaction((alarm: NewAlarm): AlarmRow | undefined => {
      const { changes, lastInsertRowid } = this.statements.raise.run(alarm);
      if (changes !== 1) return undefined;
      const id = Number(lastInsertRowid);
      this.statements.step.run({ id, status: 'raised', ts: alarm.ts, by: null, note: null, message: alarm.message });
      return this.statements.get.get(id);
    });
    this.transitionTx = sqlite.transaction(
      (id: number, from: readonly AlarmStatus[], to: AlarmStatus, step: Omit<AlarmTransition, 'status'>) => {
        const { changes } = this.statements.move.run({ id, to, ts: step.ts, by: step.by, from: JSON.stringify(from) });
        if (changes !== 1) return undefined;
        this.statements.step.run({ id, status: to, ...step });
        return this.statements.get.get(id);
      },
    );
  }

  async raise(alarm: NewAlarm): Promise<AlarmRecord | undefined> {
    const row = this.raiseTx.immediate(alarm);
    return row && alarmOf(row);
  }

  async transition(
    id: string,
    from: readonly AlarmStatus[],
    to: AlarmStatus,
    step: Omit<AlarmTransition, 'status'>,
  ): Promise<AlarmRecord | undefined> {
    const key = alarmIdOf(id);
    if (key === undefined) return undefined;
    const row = this.transitionTx.immediate(key, from, to, step);
    return row && alarmOf(row);
  }

  async get(id: string): Promise<AlarmRecord | undefined> {
    const key = alarmIdOf(id);
    const row = key === undefined ? undefined : this.statements.get.get(key);
    return row && alarmOf(row);
  }

  async transitions(id: string): Promise<AlarmTransition[]> {
    const key = alarmIdOf(id);
    return key === undefined ? [] : this.statements.transitions.all(key);
  }

  async list(filter: AlarmFilter): Promise<AlarmRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.status !== undefined) {
      where.push('status = ?');
      args.push(filter.status);
    }
    if (filter.active !== undefined) where.push(filter.active ? "status <> 'cleared'" : "status = 'cleared'");
    for (const [column, value] of [
      ['device_id', filter.deviceId],
      ['rule_id', filter.ruleId],
      ['severity', filter.severity],
    ] as const) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      args.push(value);
    }
    if (filter.beforeId !== undefined) {
      where.push('id < ?');
      args.push(alarmIdOf(filter.beforeId) ?? 0);
    }
    const text = `SELECT * FROM alarms ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    let statement = this.lists.get(text);
    if (!statement) {
      statement = this.sqlite.prepare<unknown[], AlarmRow>(text);
      this.lists.set(text, statement);
    }
    return statement.all(...args, filter.limit).map(alarmOf);
  }

  async open(limit: number): Promise<AlarmRecord[]> {
    return this.statements.open.all(limit).map(alarmOf);
  }

  async openCounts(deviceIds: readonly string[]): Promise<Map<string, number>> {
    if (deviceIds.length === 0) return new Map();
    return new Map(this.statements.counts.all(JSON.stringify(deviceIds)).map((row) => [row.device_id, row.n]));
  }

  /** With a device, its alarms go too (called inside the device's delete transaction). */
  deleteDevice(deviceId: string): void {
    this.statements.deleteSteps.run(deviceId);
    this.statements.deleteAlarms.run(deviceId);
  }
}
