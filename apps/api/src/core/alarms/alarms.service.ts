import { Injectable } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import { type AlarmRuleInput, type AlarmStatus, type ListAlarmsQuery, MAX_ALARM_RULES } from '@iot/protocol';
import {
  type AlarmRecord,
  AlarmRepository,
  type AlarmRule,
  AlarmRuleRepository,
  type AlarmTransition,
} from '../../domain/alarms';
import { DomainError } from '../../domain/errors';
import { AlarmEngine } from './alarm-engine.service';

/** Pages of alarms read at most for one page of a scoped user's (the rest: the next page, by its cursor). */
const SCOPED_READS = 10;

/** Open alarms of a deleted rule cleared at once, at most per page. */
const CLEAR_PAGE = 500;

/** Alarm rules and alarms as people manage them: rules written, alarms listed, acknowledged and cleared. */
@Injectable()
export class AlarmsService {
  constructor(
    private readonly rules: AlarmRuleRepository,
    private readonly alarms: AlarmRepository,
    private readonly engine: AlarmEngine,
  ) {}

  listRules(): Promise<AlarmRule[]> {
    return this.rules.list();
  }

  async getRule(id: string): Promise<AlarmRule> {
    const rule = await this.rules.get(id);
    if (!rule) throw new DomainError('not_found', `no alarm rule ${id}`);
    return rule;
  }

  async createRule(input: AlarmRuleInput, now = Date.now()): Promise<AlarmRule> {
    const rule: AlarmRule = { id: uuidv7(), ...input, createdAt: now, updatedAt: now };
    if (!(await this.rules.insert(rule, MAX_ALARM_RULES))) {
      throw new DomainError('too_large', `at most ${MAX_ALARM_RULES} alarm rules`);
    }
    await this.engine.announceRules();
    return rule;
  }

  async updateRule(id: string, input: AlarmRuleInput, now = Date.now()): Promise<AlarmRule> {
    const current = await this.getRule(id);
    // Strictly later than before: the evaluator tells an edited rule by its updatedAt.
    const rule: AlarmRule = { ...current, ...input, id, updatedAt: Math.max(now, current.updatedAt + 1) };
    if (!(await this.rules.update(rule))) throw new DomainError('not_found', `no alarm rule ${id}`);
    await this.engine.announceRules();
    return rule;
  }

  /** Deletes a rule; its open alarms are cleared by `by`. */
  async deleteRule(id: string, by: string, now = Date.now()): Promise<void> {
    if (!(await this.rules.delete(id))) throw new DomainError('not_found', `no alarm rule ${id}`);
    await this.engine.announceRules();
    for (;;) {
      const open = await this.alarms.list({ ruleId: id, active: true, limit: CLEAR_PAGE });
      let cleared = 0;
      for (const alarm of open) {
        if (await this.move(alarm.id, ['raised', 'acknowledged'], 'cleared', by, 'the rule was deleted', now))
          cleared++;
      }
      if (open.length < CLEAR_PAGE || cleared === 0) return;
    }
  }

  /**
   * One page of alarms, newest first. With `visible` (a scoped user), only
   * alarms of the devices it lets through; the log is read a bounded number
   * of pages for it, so a page may come back short with a cursor to go on.
   */
  async list(
    query: ListAlarmsQuery,
    visible?: (deviceId: string) => boolean,
  ): Promise<{ items: AlarmRecord[]; nextCursor: string | null }> {
    const { limit, cursor, ...filter } = query;
    if (!visible) {
      const rows = await this.alarms.list({ ...filter, beforeId: cursor, limit: limit + 1 });
      const items = rows.slice(0, limit);
      return { items, nextCursor: rows.length > limit ? items[items.length - 1].id : null };
    }
    const items: AlarmRecord[] = [];
    let before = cursor;
    for (let read = 0; read < SCOPED_READS; read++) {
      const rows = await this.alarms.list({ ...filter, beforeId: before, limit: limit + 1 });
      for (const row of rows) {
        if (items.length === limit) return { items, nextCursor: items[items.length - 1].id };
        before = row.id;
        if (visible(row.deviceId)) items.push(row);
      }
      if (rows.length <= limit) return { items, nextCursor: null };
    }
    return { items, nextCursor: before ?? null };
  }

  async get(id: string): Promise<AlarmRecord & { transitions: AlarmTransition[] }> {
    const alarm = await this.alarms.get(id);
    if (!alarm) throw new DomainError('not_found', `no alarm ${id}`);
    return { ...alarm, transitions: await this.alarms.transitions(id) };
  }

  acknowledge(id: string, by: string, note?: string, now = Date.now()): Promise<AlarmRecord> {
    return this.transition(id, ['raised'], 'acknowledged', by, note, now);
  }

  clear(id: string, by: string, note?: string, now = Date.now()): Promise<AlarmRecord> {
    return this.transition(id, ['raised', 'acknowledged'], 'cleared', by, note, now);
  }

  /** How many open alarms each device has. */
  openCounts(deviceIds: readonly string[]): Promise<Map<string, number>> {
    return this.alarms.openCounts(deviceIds);
  }

  private async transition(
    id: string,
    from: readonly AlarmStatus[],
    to: AlarmStatus,
    by: string,
    note: string | undefined,
    now: number,
  ): Promise<AlarmRecord> {
    const moved = await this.move(id, from, to, by, note, now);
    if (moved) return moved;
    const alarm = await this.alarms.get(id);
    if (!alarm) throw new DomainError('not_found', `no alarm ${id}`);
    throw new DomainError('conflict', `alarm ${id} is ${alarm.status}: it cannot become ${to}`);
  }

  private async move(
    id: string,
    from: readonly AlarmStatus[],
    to: AlarmStatus,
    by: string,
    note: string | undefined,
    now: number,
  ): Promise<AlarmRecord | undefined> {
    const message = `${to} by ${by}`;
    const alarm = await this.alarms.transition(id, from, to, { ts: now, by, note: note ?? null, message });
    if (alarm) this.engine.publish(alarm, { by, note, message, ts: now });
    return alarm;
  }
}
