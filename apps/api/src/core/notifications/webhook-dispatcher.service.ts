import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import {
  type AlarmEvent,
  alarmEventSchema,
  isAtLeastAsSevere,
  MAX_PENDING_DELIVERIES,
  WEBHOOK_DELIVERY_RETENTION_DAYS,
  WEBHOOK_HEADERS,
} from '@iot/protocol';
import type { StoredEvent } from '../../domain/events';
import { type DeliveryRecord, type NewDelivery, type WebhookRecord, WebhookRepository } from '../../domain/webhooks';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { RateLimitedLog } from '../../platform/logging/rate-limited-log';
import { MetricsService } from '../../platform/metrics/metrics.service';
import { EventBus } from '../events/event-bus';
import { retryDelayMs } from './webhook-backoff';
import { type SendResult, WebhookSender } from './webhook-sender';
import { webhookSignature } from './webhook-signature';

/** Alarm events waiting to become deliveries, at most; past it they are dropped (and counted). */
export const MAX_QUEUED_ALARMS = 10_000;
/** Events turned into deliveries per write. */
const INGEST_BATCH = 500;
/** Requests to receivers in flight per replica, at most. */
export const MAX_IN_FLIGHT = 8;
/** How often due deliveries are looked for, whatever else wakes the sender. */
export const POLL_MS = 1_000;
/** How long after a write failed the queued events are tried again. */
const RETRY_WRITE_MS = 1_000;
/** A claim lasts the request's timeout and this much more: past it, another replica takes the delivery over. */
export const LEASE_MARGIN_MS = 30_000;
const PRUNE_EVERY_MS = 60 * 60_000;

/** Whether a webhook is to be told of an alarm transition. */
export function matches(webhook: WebhookRecord, alarm: AlarmEvent): boolean {
  if (!webhook.enabled) return false;
  if (webhook.minSeverity !== null && !isAtLeastAsSevere(alarm.severity, webhook.minSeverity)) return false;
  return webhook.ruleIds === null || webhook.ruleIds.includes(alarm.ruleId);
}

/** The headers of a webhook request whose body is `body`. */
export function signedHeaders(secret: string, body: string, deliveryId: string, event: string, now: number) {
  return {
    [WEBHOOK_HEADERS.delivery]: deliveryId,
    [WEBHOOK_HEADERS.event]: event,
    [WEBHOOK_HEADERS.signature]: webhookSignature(secret, body, Math.floor(now / 1000)),
  };
}

/**
 * Sends alarm notifications to webhooks, exactly once across replicas. Every
 * replica sees every `alarm` event on the bus; each stores one delivery per
 * matching webhook, keyed by (webhook, event seq), so the rows the others
 * store for the same event are dropped. Sending a delivery takes a lease on
 * it in storage first: one replica sends it, and if that replica dies the
 * lease runs out and another takes it over. Failed attempts are retried with
 * backoff (retryDelayMs) up to MAX_WEBHOOK_ATTEMPTS.
 *
 * Ingest is never held up: the bus listener only queues (bounded), and the
 * writes and requests run apart from it, MAX_IN_FLIGHT requests at a time.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private readonly failures = new RateLimitedLog('webhook deliveries', (fields, message) =>
    this.logger.warn(fields, message),
  );
  private queue: StoredEvent[] = [];
  private ingesting: Promise<void> | undefined;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly closing = new AbortController();
  private stopListening: (() => void) | undefined;
  private poller: NodeJS.Timeout | undefined;
  private pruner: NodeJS.Timeout | undefined;
  private retryWrite: NodeJS.Timeout | undefined;
  private dropped = 0;

  constructor(
    private readonly bus: EventBus,
    private readonly webhooks: WebhookRepository,
    private readonly sender: WebhookSender,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.stopListening = this.bus.on('committed', (events) => this.committed(events));
    this.poller = setInterval(() => this.pump(), POLL_MS).unref();
    this.pruner = setInterval(() => void this.prune(), PRUNE_EVERY_MS).unref();
    void this.prune();
    this.pump();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopListening?.();
    clearInterval(this.poller);
    clearInterval(this.pruner);
    clearTimeout(this.retryWrite);
    // Requests under way are abandoned: their leases run out and the deliveries are sent again.
    this.closing.abort();
    this.failures.close();
    await this.ingesting;
    await this.pumping;
    await Promise.all(this.inFlight);
  }

  /** Resolves once the queued events are stored as deliveries and every request started is settled. */
  async idle(): Promise<void> {
    while (this.ingesting || this.pumping || this.inFlight.size > 0) {
      await Promise.all([this.ingesting, this.pumping, ...this.inFlight]);
    }
  }

  /** The bus listener: queues the alarm events, nothing more. */
  private committed(events: StoredEvent[]): void {
    let added = false;
    for (const event of events) {
      // Alarm events share the log with the device events.
      if (event.type !== 'alarm') continue;
      if (this.queue.length >= MAX_QUEUED_ALARMS) {
        this.dropped++;
        this.metrics.webhookDeliveries.inc({ outcome: 'dropped' });
        continue;
      }
      this.queue.push(event);
      added = true;
    }
    if (added) setImmediate(() => this.ingest());
  }

  /** Stores the queued events' deliveries, one write at a time. */
  private ingest(): void {
    if (this.ingesting || this.queue.length === 0 || this.closing.signal.aborted) return;
    this.ingesting = this.store().finally(() => {
      this.ingesting = undefined;
      if (this.queue.length > 0 && this.retryWrite === undefined) this.ingest();
    });
  }

  private async store(): Promise<void> {
    const batch = this.queue.slice(0, INGEST_BATCH);
    try {
      const hooks = await this.webhooks.list();
      const now = Date.now();
      const rows: NewDelivery[] = [];
      for (const event of batch) {
        const alarm = parseAlarm(event.data);
        if (alarm === undefined) continue;
        for (const hook of hooks) {
          if (!matches(hook, alarm)) continue;
          rows.push({
            id: uuidv7(),
            webhookId: hook.id,
            seq: event.seq,
            event: 'alarm',
            alarmId: alarm.alarmId,
            data: event.data,
            createdAt: now,
          });
        }
      }
      const added = await this.webhooks.addDeliveries(rows);
      this.queue = this.queue.slice(batch.length);
      if (this.dropped > 0) {
        this.logger.error(`${this.dropped} alarm events were not queued for webhooks: the queue was full`);
        this.dropped = 0;
      }
      if (added === 0) return;
      for (const webhookId of new Set(rows.map((row) => row.webhookId))) {
        const given = await this.webhooks.capPending(
          webhookId,
          MAX_PENDING_DELIVERIES,
          `given up: more than ${MAX_PENDING_DELIVERIES} deliveries pending`,
        );
        if (given > 0) {
          this.metrics.webhookDeliveries.inc({ outcome: 'failed' }, given);
          this.logger.warn(`webhook ${webhookId}: ${given} pending deliveries given up (too many pending)`);
        }
      }
      this.pump();
    } catch (error) {
      this.failed(error);
      this.retryWrite = setTimeout(() => {
        this.retryWrite = undefined;
        this.ingest();
      }, RETRY_WRITE_MS).unref();
    }
  }

  /** Claims due deliveries while there is room in flight, and sends them; one look at a time. */
  pump(): void {
    if (this.closing.signal.aborted) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.claimDue()
      .catch((error: unknown) => this.failed(error))
      .finally(() => {
        this.pumping = undefined;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.pump();
        }
      });
  }

  private async claimDue(): Promise<void> {
    const room = MAX_IN_FLIGHT - this.inFlight.size;
    if (room <= 0) return;
    const now = Date.now();
    const due = await this.webhooks.due(now, room);
    for (const delivery of due) {
      if (this.closing.signal.aborted) return;
      const leaseUntil = now + this.config.webhookTimeoutMs + LEASE_MARGIN_MS;
      if (!(await this.webhooks.claim(delivery.id, now, leaseUntil))) continue;
      const attempt = this.attempt(delivery, leaseUntil).finally(() => {
        this.inFlight.delete(attempt);
        this.pump();
      });
      this.inFlight.add(attempt);
    }
  }

  /** One attempt at a claimed delivery, and its outcome stored (unless the lease was lost meanwhile). */
  private async attempt(delivery: DeliveryRecord, leaseUntil: number): Promise<void> {
    const attempts = delivery.attempts + 1;
    try {
      const hook = await this.webhooks.get(delivery.webhookId);
      let result: SendResult;
      if (hook === undefined || !hook.enabled) {
        result = { ok: false, statusCode: null, error: hook ? 'the webhook is disabled' : 'the webhook was deleted' };
      } else {
        const body = `{"type":"alarm","deliveryId":${JSON.stringify(delivery.id)},"seq":${delivery.seq},"alarm":${delivery.data}}`;
        const headers = signedHeaders(hook.secret, body, delivery.id, delivery.event, Date.now());
        result = await this.sender.send(hook.url, body, headers, this.config.webhookTimeoutMs, this.closing.signal);
      }
      if (this.closing.signal.aborted) return;
      const now = Date.now();
      const delay = hook?.enabled ? retryDelayMs(attempts, this.config.webhookRetryBaseMs) : undefined;
      const retryAt = result.ok || delay === undefined ? null : now + delay;
      const outcome = result.ok ? 'delivered' : retryAt === null ? 'failed' : 'retried';
      const settled = await this.webhooks.settle(delivery.id, leaseUntil, {
        status: outcome === 'retried' ? 'pending' : outcome,
        lastStatusCode: result.statusCode,
        lastError: result.error,
        nextAttemptAt: retryAt,
        deliveredAt: result.ok ? now : null,
      });
      if (!settled) {
        this.logger.warn(`webhook delivery ${delivery.id}: its lease ran out before the attempt ended`);
        return;
      }
      this.metrics.webhookDeliveries.inc({ outcome });
      if (outcome === 'failed') {
        this.logger.warn(`webhook ${delivery.webhookId}: delivery ${delivery.id} failed after ${attempts} attempts`);
      }
    } catch (error) {
      this.failed(error);
    }
  }

  private failed(error: unknown): void {
    this.failures.log('storage', {}, `webhook deliveries: ${error instanceof Error ? error.message : String(error)}`);
  }

  private async prune(): Promise<void> {
    try {
      const removed = await this.webhooks.prune(Date.now() - WEBHOOK_DELIVERY_RETENTION_DAYS * 86_400_000);
      if (removed > 0) this.logger.debug(`pruned ${removed} webhook deliveries`);
    } catch (error) {
      this.logger.warn(`pruning the webhook delivery log failed: ${String(error)}`);
    }
  }
}

function parseAlarm(data: string): AlarmEvent | undefined {
  try {
    const parsed = alarmEventSchema.safeParse(JSON.parse(data));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
