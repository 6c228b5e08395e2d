import type { AlarmEvent } from '@iot/protocol';
import type { StoredEvent } from '../../domain/events';
import type {
  AttemptOutcome,
  DeliveryFilter,
  DeliveryRecord,
  NewDelivery,
  WebhookRecord,
  WebhookRepository,
} from '../../domain/webhooks';
import type { AppConfig } from '../../platform/config/config';
import { MetricsService } from '../../platform/metrics/metrics.service';
import { EventBus } from '../events/event-bus';
import { LEASE_MARGIN_MS, MAX_QUEUED_ALARMS, matches, WebhookDispatcher } from './webhook-dispatcher.service';
import type { SendResult, WebhookSender } from './webhook-sender';
import { webhookSignature } from './webhook-signature';

const config = { webhookTimeoutMs: 10_000, webhookRetryBaseMs: 10_000 } as AppConfig;
const T0 = 1_700_000_000_000;

const alarm = (overrides: Partial<AlarmEvent> = {}): AlarmEvent => ({
  alarmId: 'a1',
  ruleId: 'r1',
  ruleName: 'too hot',
  deviceId: 'd1',
  severity: 'major',
  status: 'raised',
  message: 'temperature 31 above 30',
  ts: T0,
  ...overrides,
});

const alarmEvent = (seq: number, data: AlarmEvent = alarm()): StoredEvent =>
  ({ seq, type: 'alarm', deviceId: data.deviceId, data: JSON.stringify(data) }) satisfies StoredEvent;

const hook = (overrides: Partial<WebhookRecord> = {}): WebhookRecord => ({
  id: 'w1',
  name: 'ops',
  url: 'http://receiver.test/hook',
  secret: 'secret',
  minSeverity: null,
  ruleIds: null,
  enabled: true,
  createdBy: 'admin',
  createdAt: T0,
  updatedAt: T0,
  ...overrides,
});

interface Sent {
  at: number;
  url: string;
  body: string;
  headers: Record<string, string>;
}

/** A receiver: records each request and answers with what `answer` says (a promise may never settle). */
function fakeSender(answer: (sent: Sent, cancel?: AbortSignal) => Promise<SendResult> | SendResult) {
  const sent: Sent[] = [];
  const sender = {
    send: (url: string, body: string, headers: Record<string, string>, _timeoutMs: number, cancel?: AbortSignal) => {
      const request = { at: Date.now(), url, body, headers };
      sent.push(request);
      return Promise.resolve(answer(request, cancel));
    },
  } as WebhookSender;
  return { sent, sender };
}

/** The repository's contract (apps/api/test/webhooks.repository.spec.ts) in memory, shared by the replicas of a test. */
class MemoryWebhooks implements WebhookRepository {
  readonly hooks = new Map<string, WebhookRecord>();
  readonly rows: DeliveryRecord[] = [];

  list = () => Promise.resolve([...this.hooks.values()]);
  get = (id: string) => Promise.resolve(this.hooks.get(id));
  count = () => Promise.resolve(this.hooks.size);
  insert = (webhook: WebhookRecord) => Promise.resolve(void this.hooks.set(webhook.id, webhook));
  update = (webhook: WebhookRecord) =>
    Promise.resolve(this.hooks.has(webhook.id) && !!this.hooks.set(webhook.id, webhook));
  delete = (id: string) => Promise.resolve(this.hooks.delete(id));

  addDeliveries(deliveries: NewDelivery[]): Promise<number> {
    let added = 0;
    for (const d of deliveries) {
      if (this.rows.some((row) => row.webhookId === d.webhookId && row.seq === d.seq)) continue;
      this.rows.push({
        ...d,
        status: 'pending',
        attempts: 0,
        lastStatusCode: null,
        lastError: null,
        nextAttemptAt: d.createdAt,
        leaseUntil: 0,
        deliveredAt: null,
      });
      added++;
    }
    return Promise.resolve(added);
  }

  private isDue = (row: DeliveryRecord, now: number) =>
    row.status === 'pending' && (row.nextAttemptAt ?? Infinity) <= now && row.leaseUntil <= now;

  due(now: number, limit: number): Promise<DeliveryRecord[]> {
    return Promise.resolve(
      this.rows
        .filter((row) => this.isDue(row, now))
        .slice(0, limit)
        .map((row) => ({ ...row })),
    );
  }

  claim(id: string, now: number, leaseUntil: number): Promise<boolean> {
    const row = this.rows.find((r) => r.id === id && this.isDue(r, now));
    if (row) Object.assign(row, { leaseUntil, attempts: row.attempts + 1 });
    return Promise.resolve(row !== undefined);
  }

  settle(id: string, leaseUntil: number, outcome: AttemptOutcome): Promise<boolean> {
    const row = this.rows.find((r) => r.id === id && r.status === 'pending' && r.leaseUntil === leaseUntil);
    if (row) Object.assign(row, outcome, { leaseUntil: 0 });
    return Promise.resolve(row !== undefined);
  }

  deliveries(webhookId: string, filter: DeliveryFilter): Promise<DeliveryRecord[]> {
    const rows = this.rows.filter((r) => r.webhookId === webhookId && (!filter.status || r.status === filter.status));
    return Promise.resolve(rows.reverse().slice(0, filter.limit));
  }

  capPending = () => Promise.resolve(0);
  prune = () => Promise.resolve(0);
}

const ok: SendResult = { ok: true, statusCode: 204, error: null };
const serverError: SendResult = { ok: false, statusCode: 500, error: 'HTTP 500' };

describe('WebhookDispatcher', () => {
  let store: MemoryWebhooks;
  const running: WebhookDispatcher[] = [];

  beforeEach(async () => {
    jest.useFakeTimers({ now: T0, doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    store = new MemoryWebhooks();
  });

  afterEach(async () => {
    for (const sut of running.splice(0)) await sut.onApplicationShutdown();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  function start(sender: WebhookSender, metrics = new MetricsService()): { sut: WebhookDispatcher; bus: EventBus } {
    const bus = new EventBus();
    const sut = new WebhookDispatcher(bus, store, sender, metrics, config);
    sut.onApplicationBootstrap();
    running.push(sut);
    return { sut, bus };
  }

  /** Lets the dispatcher store what it queued and finish the requests it started. */
  async function settled(sut: WebhookDispatcher): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    await sut.idle();
  }

  const log = () => store.deliveries('w1', { limit: 10 });

  it('posts a signed alarm, once, and logs it delivered', async () => {
    await store.insert(hook());
    const { sent, sender } = fakeSender(() => ok);
    const { sut, bus } = start(sender);

    bus.emit('committed', [alarmEvent(7)], []);
    await settled(sut);

    expect(sent).toHaveLength(1);
    const [{ body, headers }] = sent;
    const [row] = await log();
    expect(JSON.parse(body)).toEqual({ type: 'alarm', deliveryId: row.id, seq: 7, alarm: alarm() });
    expect(headers).toEqual({
      'X-Iot-Delivery': row.id,
      'X-Iot-Event': 'alarm',
      'X-Iot-Signature': webhookSignature('secret', body, T0 / 1000),
    });
    expect(row).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 204, deliveredAt: T0 });
  });

  it('retries on the backoff schedule and gives up after the eighth attempt', async () => {
    await store.insert(hook());
    const { sent, sender } = fakeSender(() => serverError);
    const metrics = new MetricsService();
    const { sut, bus } = start(sender, metrics);

    bus.emit('committed', [alarmEvent(1)], []);
    await settled(sut);
    // 10 s, 30 s, 2 min, 10 min, 1 h, 1 h, 1 h after each failure.
    for (const wait of [10_000, 30_000, 120_000, 600_000, 3_600_000, 3_600_000, 3_600_000]) {
      await jest.advanceTimersByTimeAsync(wait - 1);
      await settled(sut);
      const before = sent.length;
      await jest.advanceTimersByTimeAsync(1);
      await settled(sut);
      expect(sent.length).toBe(before + 1);
    }
    expect(sent.map((s) => s.at - T0)).toEqual([0, 10_000, 40_000, 160_000, 760_000, 4_360_000, 7_960_000, 11_560_000]);
    const [row] = await log();
    expect(row).toMatchObject({ status: 'failed', attempts: 8, lastStatusCode: 500, lastError: 'HTTP 500' });
    expect(row.nextAttemptAt).toBeNull();
    await jest.advanceTimersByTimeAsync(24 * 3_600_000);
    await settled(sut);
    expect(sent).toHaveLength(8);
    const text = await metrics.registry.getSingleMetricAsString('iot_webhook_deliveries_total');
    expect(text).toContain('outcome="retried"} 7');
    expect(text).toContain('outcome="failed"} 1');
  });

  it('takes over a delivery whose replica died mid-request once its lease has run out, and sends it once', async () => {
    await store.insert(hook());
    // Replica A: its request never gets an answer, then it dies.
    const a = fakeSender(
      (_sent, cancel) => new Promise((resolve) => cancel?.addEventListener('abort', () => resolve(ok))),
    );
    const replicaA = start(a.sender);
    replicaA.bus.emit('committed', [alarmEvent(1)], []);
    await new Promise((resolve) => setImmediate(resolve));
    await jest.advanceTimersByTimeAsync(0);
    expect(a.sent).toHaveLength(1);
    await replicaA.sut.onApplicationShutdown();

    const b = fakeSender(() => ok);
    const replicaB = start(b.sender);
    // B saw the same event: the delivery is stored once.
    replicaB.bus.emit('committed', [alarmEvent(1)], []);
    await settled(replicaB.sut);
    expect(await log()).toHaveLength(1);
    const lease = config.webhookTimeoutMs + LEASE_MARGIN_MS;
    await jest.advanceTimersByTimeAsync(lease - 1_000);
    await settled(replicaB.sut);
    expect(b.sent).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1_000);
    await settled(replicaB.sut);
    expect(b.sent).toHaveLength(1);
    expect(JSON.parse(b.sent[0].body)).toMatchObject({ deliveryId: JSON.parse(a.sent[0].body).deliveryId });
    expect((await log())[0]).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('only queues on the bus, at most MAX_QUEUED_ALARMS, and counts what it drops', async () => {
    const { sender } = fakeSender(() => ok);
    const metrics = new MetricsService();
    const { sut, bus } = start(sender, metrics);
    const events = Array.from({ length: MAX_QUEUED_ALARMS + 3 }, (_, i) => alarmEvent(i + 1));
    bus.emit('committed', [{ seq: 0, type: 'telemetry', deviceId: 'd1', data: '{}' }, ...events], []);
    const text = await metrics.registry.getSingleMetricAsString('iot_webhook_deliveries_total');
    expect(text).toContain('outcome="dropped"} 3');
    await settled(sut);
  });
});

describe('matches', () => {
  it('takes transitions at the minimum severity or worse, of the rules listed, while enabled', () => {
    expect(matches(hook(), alarm({ severity: 'warning' }))).toBe(true);
    expect(matches(hook({ minSeverity: 'major' }), alarm({ severity: 'critical' }))).toBe(true);
    expect(matches(hook({ minSeverity: 'major' }), alarm({ severity: 'major' }))).toBe(true);
    expect(matches(hook({ minSeverity: 'major' }), alarm({ severity: 'minor' }))).toBe(false);
    expect(matches(hook({ ruleIds: ['r2', 'r1'] }), alarm())).toBe(true);
    expect(matches(hook({ ruleIds: ['r2'] }), alarm())).toBe(false);
    expect(matches(hook({ enabled: false }), alarm())).toBe(false);
  });
});
