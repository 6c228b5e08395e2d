import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { AlarmEvent, AlarmSeverity } from '@iot/protocol';
import { type AlarmRecord, AlarmRepository, type AlarmRule, AlarmRuleRepository } from '../../domain/alarms';
import { ClusterChannel } from '../../domain/cluster';
import { DeviceRepository } from '../../domain/devices';
import { deviceEvents, type StoredEvent } from '../../domain/events';
import { ModelRepository } from '../../domain/models';
import { MetricsService } from '../../platform/metrics/metrics.service';
import { EventBus } from '../events/event-bus';
import { EventLog } from '../events/event-log.service';
import { type AlarmCause, AlarmEvaluator, type DeviceProfile, MAX_TRACKED } from './alarm-evaluator';

/** Open alarms read at start at most (a (rule, device) has one at most). */
const MAX_OPEN_LOADED = 100_000;
/** Devices read per page at start. */
const DEVICE_PAGE = 1_000;
/** Device profiles looked up at once, at most, for devices that appeared since the start. */
const MAX_LOOKUPS = 100;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs the alarm rules on this replica: feeds the evaluator the committed
 * events (every replica gets every one, in seq order), and makes its
 * decisions as compare-and-set writes. The write that lands appends the
 * `alarm` event to the log, so each transition is streamed once, with a seq,
 * and reaches every replica's evaluator.
 */
@Injectable()
export class AlarmEngine implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AlarmEngine.name);
  readonly evaluator: AlarmEvaluator;
  /** Open alarms by id, with their severity (the gauge). */
  private readonly open = new Map<string, AlarmSeverity>();
  private readonly lookups = new Set<string>();
  private hasProfileRules = false;
  private hasRules = false;
  private started = false;
  private stopped = false;
  private unsubscribe: Array<() => void> = [];
  /** Pairs the evaluator could not follow, as last logged. */
  private droppedLogged = 0;

  constructor(
    private readonly rules: AlarmRuleRepository,
    private readonly alarms: AlarmRepository,
    private readonly devices: DeviceRepository,
    private readonly models: ModelRepository,
    private readonly log: EventLog,
    private readonly bus: EventBus,
    private readonly cluster: ClusterChannel,
    private readonly metrics: MetricsService,
  ) {
    this.evaluator = new AlarmEvaluator({
      raise: (rule, deviceId, cause) => this.raise(rule, deviceId, cause),
      clear: (alarmId, rule, deviceId, cause) => void this.clearByCondition(alarmId, rule, deviceId, cause),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.unsubscribe.push(
      this.bus.on('committed', (events) => this.committed(events)),
      this.bus.on('device.changed', (deviceId) => void this.lookup(deviceId, true)),
    );
    await this.reload();
    this.started = true;
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    for (const off of this.unsubscribe) off();
    this.evaluator.close();
  }

  /** Reads the rules, the devices and the open alarms (at start, and after the replicas' channel was lost). */
  async reload(): Promise<void> {
    const [rules, profiles, onlineIds, open] = await Promise.all([
      this.rules.list(),
      this.profiles(),
      this.devices.onlineIds(),
      this.alarms.open(MAX_OPEN_LOADED),
    ]);
    this.useRules(rules, () => this.evaluator.load(rules, profiles, onlineIds));
    this.open.clear();
    for (const alarm of open) this.open.set(alarm.id, alarm.severity);
    this.metrics.alarmsOpen.set(this.open.size);
    this.evaluator.opened(open);
    await this.clearStale();
  }

  /** The rules changed, here or on another replica: read them again. */
  rulesChanged(): Promise<void> {
    return this.rules
      .list()
      .then(async (rules) => {
        this.useRules(rules, () => this.evaluator.setRules(rules));
        await this.clearStale();
      })
      .catch((error: unknown) => this.logger.error(`reading the alarm rules failed: ${messageOf(error)}`));
  }

  /** Tells the other replicas that the rules changed, and reads them here. */
  async announceRules(): Promise<void> {
    // Read here before the answer, so that the next event is evaluated by the rule as changed.
    await this.rulesChanged();
    if (!this.cluster.shared) return;
    await this.cluster
      .announce({ kind: 'alarm.rules' })
      .catch((error: unknown) =>
        this.logger.error(`telling the other replicas of the rules failed: ${messageOf(error)}`),
      );
  }

  /** Appends an `alarm` event for a transition that was stored. */
  publish(
    alarm: AlarmRecord,
    extra: Pick<AlarmEvent, 'by' | 'note' | 'key' | 'value'> & { message: string; ts: number },
  ): void {
    const event: AlarmEvent = {
      alarmId: alarm.id,
      ruleId: alarm.ruleId,
      ruleName: alarm.ruleName,
      deviceId: alarm.deviceId,
      severity: alarm.severity,
      status: alarm.status,
      ...(extra.by === undefined ? {} : { by: extra.by }),
      ...(extra.note === undefined ? {} : { note: extra.note }),
      ...(extra.key === undefined ? {} : { key: extra.key, value: extra.value }),
      message: extra.message,
      ts: extra.ts,
    };
    if (!this.log.append(deviceEvents.alarm(event), extra.ts)) {
      this.logger.error(`the event log is full: the ${alarm.status} event of alarm ${alarm.id} is not streamed`);
    }
  }

  private useRules(rules: AlarmRule[], apply: () => void): void {
    const enabled = rules.filter((rule) => rule.enabled);
    this.hasRules = enabled.length > 0;
    this.hasProfileRules = enabled.some((rule) => !('deviceId' in rule.target));
    apply();
  }

  private async profiles(): Promise<Array<[string, DeviceProfile]>> {
    const models = new Map((await this.models.assignments()).map((a) => [a.deviceId, a.model.id]));
    const out: Array<[string, DeviceProfile]> = [];
    let afterId: string | undefined;
    for (;;) {
      const page = await this.devices.list({ afterId, limit: DEVICE_PAGE });
      for (const device of page)
        out.push([device.id, { labels: device.labels, modelId: models.get(device.id) ?? null }]);
      if (page.length < DEVICE_PAGE) return out;
      afterId = page[page.length - 1].id;
    }
  }

  /** Reads one device's labels and model (a device added, changed, or first heard of since the start). */
  private async lookup(deviceId: string, changed: boolean): Promise<void> {
    if (this.lookups.has(deviceId) || (!changed && this.lookups.size >= MAX_LOOKUPS)) return;
    this.lookups.add(deviceId);
    try {
      const [device, model] = await Promise.all([this.devices.get(deviceId), this.models.assigned(deviceId)]);
      if (this.stopped) return;
      this.evaluator.setDevice(deviceId, device && { labels: device.labels, modelId: model?.id ?? null });
      await this.clearStale();
    } catch (error) {
      this.logger.warn(`reading device ${deviceId} for its alarm rules failed: ${messageOf(error)}`);
    } finally {
      this.lookups.delete(deviceId);
    }
  }

  private committed(events: StoredEvent[]): void {
    if (!this.started) return;
    for (const event of events) {
      try {
        this.follow(event);
      } catch (error) {
        this.logger.warn(`evaluating alarm rules on event ${event.seq} failed: ${messageOf(error)}`);
      }
    }
    const { dropped } = this.evaluator;
    if (dropped > this.droppedLogged && (this.droppedLogged === 0 || dropped >= this.droppedLogged * 2)) {
      this.droppedLogged = dropped;
      this.logger.warn(`${dropped} (rule, device) pairs were not evaluated: ${MAX_TRACKED} are followed already`);
    }
  }

  private follow(event: StoredEvent): void {
    switch (event.type) {
      case 'telemetry': {
        if (!this.hasRules) return;
        if (this.hasProfileRules && !this.evaluator.knows(event.deviceId)) void this.lookup(event.deviceId, false);
        const { values } = JSON.parse(event.data) as { values?: unknown };
        if (values !== null && typeof values === 'object')
          this.evaluator.telemetry(event.deviceId, values as Record<string, unknown>);
        return;
      }
      case 'status': {
        const { online } = JSON.parse(event.data) as { online?: unknown };
        this.evaluator.status(event.deviceId, online === true);
        return;
      }
      case 'alarm': {
        const alarm = JSON.parse(event.data) as AlarmEvent;
        if (alarm.status === 'cleared') this.open.delete(alarm.alarmId);
        else this.open.set(alarm.alarmId, alarm.severity);
        this.metrics.alarmsOpen.set(this.open.size);
        this.evaluator.alarm(alarm);
        return;
      }
      case 'state':
      case 'command':
        return;
    }
  }

  private async raise(rule: AlarmRule, deviceId: string, cause: AlarmCause): Promise<string | undefined> {
    const ts = Date.now();
    try {
      const alarm = await this.alarms.raise({
        ruleId: rule.id,
        ruleName: rule.name,
        deviceId,
        severity: rule.severity,
        message: cause.message,
        ts,
      });
      if (!alarm) return undefined;
      this.metrics.alarmsRaised.inc({ severity: alarm.severity });
      this.publish(alarm, { key: cause.key, value: cause.value, message: cause.message, ts });
      return alarm.id;
    } catch (error) {
      this.logger.error(`raising alarm ${rule.name} on ${deviceId} failed: ${messageOf(error)}`);
      return undefined;
    }
  }

  private async clearByCondition(alarmId: string, rule: AlarmRule, deviceId: string, cause: AlarmCause): Promise<void> {
    const ts = Date.now();
    try {
      const alarm = await this.alarms.transition(alarmId, ['raised', 'acknowledged'], 'cleared', {
        ts,
        by: null,
        note: null,
        message: cause.message,
      });
      if (alarm) this.publish(alarm, { key: cause.key, value: cause.value, message: cause.message, ts });
    } catch (error) {
      this.logger.error(`clearing alarm ${alarmId} (${rule.name} on ${deviceId}) failed: ${messageOf(error)}`);
    }
  }

  /** Open alarms whose rule is gone, disabled or no longer applies to their device end. */
  private async clearStale(): Promise<void> {
    for (const stale of this.evaluator.stale()) {
      await this.clearByCondition(stale.alarmId, stale.rule, stale.deviceId, { message: 'the rule no longer applies' });
    }
  }
}
