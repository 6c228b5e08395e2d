import { type AlarmEvent, labelSelectorSchema } from '@iot/protocol';
import type { AlarmRule } from '../../domain/alarms';

/** What a rule's target is matched against. */
export interface DeviceProfile {
  labels: Readonly<Record<string, string>>;
  modelId: string | null;
}

/** Why a transition is made: the value that made it, and a line for people. */
export interface AlarmCause {
  key?: string;
  value?: unknown;
  message: string;
}

/**
 * Where the evaluator's decisions go. Each is a compare-and-set in storage:
 * `raise` resolves to the alarm's id when this call stored it, undefined when
 * another replica did first (its `alarm` event follows on the bus) or it failed.
 */
export interface AlarmActions {
  raise(rule: AlarmRule, deviceId: string, cause: AlarmCause): Promise<string | undefined>;
  clear(alarmId: string, rule: AlarmRule, deviceId: string, cause: AlarmCause): void;
}

/** (rule, device) pairs followed at most: past this, new pairs are not evaluated (counted in `dropped`). */
export const MAX_TRACKED = 100_000;

/** What is known of one (rule, device). */
interface Tracked {
  rule: AlarmRule;
  deviceId: string;
  /** The condition holds (with hysteresis) since `since`. */
  holding: boolean;
  since: number;
  /** silent rules: the last telemetry (or when the pair started being followed). */
  lastSeen: number;
  timer: NodeJS.Timeout | undefined;
  /** The open alarm (raised or acknowledged), as far as this replica knows. */
  alarmId: string | undefined;
  raising: boolean;
  /** Cleared by hand while the condition held: no new alarm until it ends. */
  latched: boolean;
  cause: AlarmCause | undefined;
}

function keyOf(ruleId: string, deviceId: string): string {
  return `${ruleId}\u0000${deviceId}`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** Each rule's label selector, parsed once (a rule object is replaced, never changed, when edited). */
const selectors = new WeakMap<AlarmRule, ReadonlyMap<string, string> | null>();

function selectorOf(rule: AlarmRule, text: string): ReadonlyMap<string, string> | null {
  let selector = selectors.get(rule);
  if (selector === undefined) {
    const parsed = labelSelectorSchema.safeParse(text);
    selector = parsed.success ? parsed.data : null;
    selectors.set(rule, selector);
  }
  return selector;
}

/** Whether `rule` applies to the device. */
export function targets(rule: AlarmRule, deviceId: string, profile: DeviceProfile | undefined): boolean {
  const { target } = rule;
  if ('deviceId' in target) return target.deviceId === deviceId;
  if (!profile) return false;
  if ('modelId' in target) return profile.modelId === target.modelId;
  const selector = selectorOf(rule, target.labels);
  if (!selector) return false;
  for (const [key, value] of selector) if (profile.labels[key] !== value) return false;
  return true;
}

/**
 * Evaluates the alarm rules over device events, in the order the event bus
 * gives them (the log's), and decides raises and clears. Every replica runs
 * one over the same events; storage makes each decision land once. Durations
 * are timed here, one timer per pending (rule, device), on the wall clock.
 */
export class AlarmEvaluator {
  private rules: AlarmRule[] = [];
  private readonly tracked = new Map<string, Tracked>();
  private readonly profiles = new Map<string, DeviceProfile>();
  private readonly online = new Set<string>();
  /** Pairs that could not be followed (MAX_TRACKED). */
  dropped = 0;

  constructor(
    private readonly actions: AlarmActions,
    private readonly maxTracked = MAX_TRACKED,
  ) {}

  /** How many pairs are followed. */
  get size(): number {
    return this.tracked.size;
  }

  /**
   * The rules, the devices and which are online: pairs of rules that are gone,
   * disabled or edited start over (their open alarms stay known), and
   * offline and silent rules start timing every device they apply to.
   */
  load(rules: AlarmRule[], devices: Iterable<[string, DeviceProfile]>, onlineIds: Iterable<string>): void {
    this.profiles.clear();
    for (const [id, profile] of devices) this.profiles.set(id, profile);
    this.online.clear();
    for (const id of onlineIds) this.online.add(id);
    this.setRules(rules);
  }

  setRules(rules: AlarmRule[]): void {
    const byId = new Map(rules.map((rule) => [rule.id, rule]));
    for (const [key, entry] of this.tracked) {
      const rule = byId.get(entry.rule.id);
      if (rule && rule.updatedAt === entry.rule.updatedAt && rule.enabled) {
        entry.rule = rule;
        continue;
      }
      clearTimeout(entry.timer);
      entry.timer = undefined;
      if (entry.alarmId === undefined || !rule) {
        this.tracked.delete(key);
        continue;
      }
      // An open alarm stays until the edited condition ends (or its rule is disabled, see `stale`).
      entry.rule = rule;
      entry.holding = true;
      entry.since = Date.now();
      entry.latched = false;
    }
    this.rules = rules.filter((rule) => rule.enabled);
    for (const rule of this.rules) this.seed(rule);
  }

  /** Open alarms whose rule is gone, disabled, or no longer targets their device: the caller clears them. */
  stale(): Array<{ alarmId: string; rule: AlarmRule; deviceId: string }> {
    const enabled = new Set(this.rules.map((rule) => rule.id));
    const out: Array<{ alarmId: string; rule: AlarmRule; deviceId: string }> = [];
    for (const entry of this.tracked.values()) {
      if (entry.alarmId === undefined) continue;
      if (!enabled.has(entry.rule.id) || !targets(entry.rule, entry.deviceId, this.profiles.get(entry.deviceId))) {
        out.push({ alarmId: entry.alarmId, rule: entry.rule, deviceId: entry.deviceId });
      }
    }
    return out;
  }

  /** A device was added or changed (labels, model): its pairs are followed anew; undefined: it was deleted. */
  setDevice(deviceId: string, profile: DeviceProfile | undefined): void {
    const before = this.profiles.get(deviceId);
    if (profile) this.profiles.set(deviceId, profile);
    else {
      this.profiles.delete(deviceId);
      this.online.delete(deviceId);
    }
    if (before && profile && sameProfile(before, profile)) return;
    for (const [key, entry] of this.tracked) {
      if (entry.deviceId !== deviceId) continue;
      if (profile && targets(entry.rule, deviceId, profile)) continue;
      if (entry.alarmId !== undefined && profile) continue; // cleared by the caller through `stale`
      clearTimeout(entry.timer);
      this.tracked.delete(key);
    }
    if (profile) for (const rule of this.rules) if (isTimed(rule)) this.follow(rule, deviceId);
  }

  /** Whether the evaluator knows the device (its labels and model). */
  knows(deviceId: string): boolean {
    return this.profiles.has(deviceId);
  }

  /** A telemetry message: threshold rules on its keys, and silent rules. */
  telemetry(deviceId: string, values: Record<string, unknown>): void {
    const now = Date.now();
    const profile = this.profiles.get(deviceId);
    for (const rule of this.rules) {
      const { condition } = rule;
      if (condition.kind === 'offline') continue;
      if (condition.kind === 'silent') {
        const entry = this.tracked.get(keyOf(rule.id, deviceId));
        if (!entry) continue;
        entry.lastSeen = now;
        if (entry.holding) this.end(entry, { message: `${deviceId} sends telemetry again` });
        continue;
      }
      if (!Object.hasOwn(values, condition.key)) continue;
      const value = values[condition.key];
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      if (!targets(rule, deviceId, profile)) continue;
      this.numeric(rule, deviceId, value, now);
    }
  }

  /** A status event. */
  status(deviceId: string, online: boolean): void {
    if (online) this.online.add(deviceId);
    else this.online.delete(deviceId);
    for (const rule of this.rules) {
      if (rule.condition.kind !== 'offline') continue;
      if (online) {
        const entry = this.tracked.get(keyOf(rule.id, deviceId));
        if (entry?.holding) this.end(entry, { message: `${deviceId} is back online` });
      } else if (targets(rule, deviceId, this.profiles.get(deviceId))) {
        this.follow(rule, deviceId);
      }
    }
  }

  /** An `alarm` event from the log (this replica's or another's): which alarm is open. */
  alarm(event: AlarmEvent): void {
    const key = keyOf(event.ruleId, event.deviceId);
    let entry = this.tracked.get(key);
    if (event.status === 'cleared') {
      if (!entry || entry.alarmId !== event.alarmId) return;
      entry.alarmId = undefined;
      const ruleId = entry.rule.id;
      if (!this.rules.some((rule) => rule.id === ruleId)) this.forget(key, entry);
      else if (event.by !== undefined && entry.holding) entry.latched = true;
      else if (!entry.holding && !isTimed(entry.rule)) this.forget(key, entry);
      return;
    }
    if (!entry) {
      const rule = this.rules.find((r) => r.id === event.ruleId);
      if (!rule) return;
      entry = this.track(rule, event.deviceId, true);
      if (!entry) return;
    }
    entry.alarmId = event.alarmId;
  }

  /** Open alarms read from storage (at start, after a resync): those not among them were cleared meanwhile. */
  opened(alarms: Array<{ id: string; ruleId: string; deviceId: string }>): void {
    const open = new Set(alarms.map((alarm) => alarm.id));
    for (const entry of this.tracked.values()) {
      if (entry.alarmId !== undefined && !open.has(entry.alarmId)) entry.alarmId = undefined;
    }
    for (const alarm of alarms) {
      const rule = this.rules.find((r) => r.id === alarm.ruleId);
      const entry =
        rule && (this.tracked.get(keyOf(rule.id, alarm.deviceId)) ?? this.track(rule, alarm.deviceId, true));
      if (entry) entry.alarmId = alarm.id;
    }
  }

  close(): void {
    for (const entry of this.tracked.values()) clearTimeout(entry.timer);
    this.tracked.clear();
  }

  private numeric(rule: AlarmRule, deviceId: string, value: number, now: number): void {
    const { condition } = rule;
    if (condition.kind !== 'above' && condition.kind !== 'below' && condition.kind !== 'outside') return;
    const key = keyOf(rule.id, deviceId);
    const entry = this.tracked.get(key);
    const h = condition.hysteresis;
    if (entry?.holding) {
      const ends =
        condition.kind === 'above'
          ? value <= condition.threshold - h
          : condition.kind === 'below'
            ? value >= condition.threshold + h
            : value >= condition.low + h && value <= condition.high - h;
      if (ends) {
        this.end(entry, { key: condition.key, value, message: `${condition.key} ${value} back within bounds` });
      } else {
        entry.cause = this.causeOf(rule, value);
        if (now - entry.since >= condition.forMs) this.raise(entry);
      }
      return;
    }
    const holds =
      condition.kind === 'above'
        ? value > condition.threshold
        : condition.kind === 'below'
          ? value < condition.threshold
          : value < condition.low || value > condition.high;
    if (!holds) return;
    const started = entry ?? this.track(rule, deviceId, false);
    if (!started) return;
    started.holding = true;
    started.since = now;
    started.cause = this.causeOf(rule, value);
    this.pend(started, condition.forMs);
  }

  private causeOf(rule: AlarmRule, value: number): AlarmCause {
    const { condition } = rule;
    const held = 'forMs' in condition && condition.forMs > 0 ? ` for ${seconds(condition.forMs)}` : '';
    switch (condition.kind) {
      case 'above':
        return { key: condition.key, value, message: `${condition.key} ${value} above ${condition.threshold}${held}` };
      case 'below':
        return { key: condition.key, value, message: `${condition.key} ${value} below ${condition.threshold}${held}` };
      case 'outside':
        return {
          key: condition.key,
          value,
          message: `${condition.key} ${value} outside ${condition.low}..${condition.high}${held}`,
        };
      case 'offline':
      case 'silent':
        return { message: rule.name };
    }
  }

  /** Raises at once when `forMs` is 0, else when the timer fires with the condition still holding. */
  private pend(entry: Tracked, forMs: number): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (forMs <= 0) {
      this.raise(entry);
      return;
    }
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (entry.holding) this.raise(entry);
    }, forMs);
    entry.timer.unref?.();
  }

  private raise(entry: Tracked): void {
    if (entry.alarmId !== undefined || entry.raising || entry.latched || !entry.holding) return;
    if (this.tracked.get(keyOf(entry.rule.id, entry.deviceId)) !== entry) return;
    entry.raising = true;
    const cause = entry.cause ?? { message: entry.rule.name };
    void this.actions.raise(entry.rule, entry.deviceId, cause).then(
      (alarmId) => this.settled(entry, alarmId),
      () => this.settled(entry, undefined),
    );
  }

  private settled(entry: Tracked, alarmId: string | undefined): void {
    entry.raising = false;
    if (alarmId === undefined) return;
    entry.alarmId ??= alarmId;
    // The condition ended (or the pair went) while the alarm was being stored.
    const current = this.tracked.get(keyOf(entry.rule.id, entry.deviceId)) === entry;
    if (!entry.holding || !current) {
      const id = entry.alarmId;
      entry.alarmId = undefined;
      this.actions.clear(id, entry.rule, entry.deviceId, { message: 'the condition ended' });
    }
  }

  private end(entry: Tracked, cause: AlarmCause): void {
    entry.holding = false;
    entry.latched = false;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entry.alarmId !== undefined) {
      const id = entry.alarmId;
      entry.alarmId = undefined;
      this.actions.clear(id, entry.rule, entry.deviceId, cause);
    }
    if (isTimed(entry.rule)) {
      if (entry.rule.condition.kind === 'silent') this.silence(entry);
      return;
    }
    if (!entry.raising) this.tracked.delete(keyOf(entry.rule.id, entry.deviceId));
  }

  private forget(key: string, entry: Tracked): void {
    clearTimeout(entry.timer);
    this.tracked.delete(key);
  }

  private track(rule: AlarmRule, deviceId: string, holding: boolean): Tracked | undefined {
    if (this.tracked.size >= this.maxTracked) {
      this.dropped++;
      return undefined;
    }
    const now = Date.now();
    const entry: Tracked = {
      rule,
      deviceId,
      holding,
      since: now,
      lastSeen: now,
      timer: undefined,
      alarmId: undefined,
      raising: false,
      latched: false,
      cause: undefined,
    };
    this.tracked.set(keyOf(rule.id, deviceId), entry);
    return entry;
  }

  /** Offline and silent rules time every device they apply to. */
  private seed(rule: AlarmRule): void {
    if (!isTimed(rule)) return;
    if ('deviceId' in rule.target) {
      if (this.profiles.has(rule.target.deviceId)) this.follow(rule, rule.target.deviceId);
      return;
    }
    for (const deviceId of this.profiles.keys()) this.follow(rule, deviceId);
  }

  /** Starts timing an offline or silent rule on a device, unless it is timed already. */
  private follow(rule: AlarmRule, deviceId: string): void {
    if (!targets(rule, deviceId, this.profiles.get(deviceId))) return;
    const key = keyOf(rule.id, deviceId);
    const existing = this.tracked.get(key);
    if (existing && (existing.holding || existing.timer !== undefined)) return;
    const entry = existing ?? this.track(rule, deviceId, false);
    if (!entry) return;
    const { condition } = rule;
    if (condition.kind === 'offline') {
      if (this.online.has(deviceId)) return;
      entry.holding = true;
      entry.since = Date.now();
      entry.cause = { message: `${deviceId} offline for ${seconds(condition.forMs)}` };
      this.pend(entry, condition.forMs);
    } else {
      this.silence(entry);
    }
  }

  /** Times a silent rule from the last telemetry: the timer checks again, so messages need not reset it. */
  private silence(entry: Tracked): void {
    const { condition } = entry.rule;
    if (condition.kind !== 'silent') return;
    clearTimeout(entry.timer);
    const check = (): void => {
      const quiet = Date.now() - entry.lastSeen;
      if (quiet < condition.forMs) {
        entry.timer = setTimeout(check, condition.forMs - quiet);
        entry.timer.unref?.();
        return;
      }
      entry.timer = undefined;
      entry.holding = true;
      entry.since = entry.lastSeen;
      entry.cause = { message: `no telemetry from ${entry.deviceId} for ${seconds(condition.forMs)}` };
      this.raise(entry);
    };
    entry.timer = setTimeout(check, Math.max(0, entry.lastSeen + condition.forMs - Date.now()));
    entry.timer.unref?.();
  }
}

function isTimed(rule: AlarmRule): boolean {
  return rule.condition.kind === 'offline' || rule.condition.kind === 'silent';
}

function sameProfile(a: DeviceProfile, b: DeviceProfile): boolean {
  if (a.modelId !== b.modelId) return false;
  const keys = Object.keys(a.labels);
  return keys.length === Object.keys(b.labels).length && keys.every((key) => a.labels[key] === b.labels[key]);
}
