import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MqttClient } from 'mqtt';
import type { AlarmEvent, WebhookDeliveryView, WebhookView, WebhookWithSecret } from '@iot/protocol';
import { EventLog } from '../src/core/events/event-log.service';
import {
  api,
  connectDevice,
  createDevice,
  createUser,
  metric,
  startApp,
  StreamRecorder,
  type TestApp,
  until,
} from './harness';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  /** Whether X-Iot-Signature verified against the webhook's secret, fresh within 5 minutes. */
  signed: boolean;
}

/** A receiver on a free port: records each request, verifies its signature, and answers as `answer` says. */
class Receiver {
  readonly received: Received[] = [];
  secret = '';
  private readonly server: Server;
  private readonly waiting = new Set<ServerResponse>();

  /** `answer` gives the status for the request numbered `n` (from 0), or `hang` to never answer. */
  constructor(private readonly answer: (n: number) => number | 'hang' = () => 200) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        const status = this.answer(this.received.length);
        this.received.push({ headers: req.headers, body, signed: verify(this.secret, req.headers, body) });
        if (status === 'hang') this.waiting.add(res);
        else res.writeHead(status).end('ok');
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async close(): Promise<void> {
    for (const res of this.waiting) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  alarms(): Array<{ deliveryId: string; seq: number; alarm: AlarmEvent }> {
    return this.received.map((r) => JSON.parse(r.body) as { deliveryId: string; seq: number; alarm: AlarmEvent });
  }
}

/** What a receiver does (docs/protocol.md): recompute the HMAC of "<t>.<body>" and check the time. */
function verify(secret: string, headers: IncomingMessage['headers'], body: string): boolean {
  const header = String(headers['x-iot-signature'] ?? '');
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match || Math.abs(Date.now() / 1000 - Number(match[1])) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${match[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(match[2], 'hex'));
}

const alarm = (ruleId: string, status: AlarmEvent['status'], overrides: Partial<AlarmEvent> = {}): AlarmEvent => ({
  alarmId: `alarm-${ruleId}`,
  ruleId,
  ruleName: `rule ${ruleId}`,
  deviceId: 'hook-dev',
  severity: 'major',
  status,
  message: `${ruleId} ${status}`,
  ts: Date.now(),
  ...overrides,
});

describe('webhooks (e2e)', () => {
  let app: TestApp;
  const receivers: Receiver[] = [];

  /** Appends an alarm event to the app's event log, as the alarm engine does. */
  function raise(event: AlarmEvent): void {
    app.app
      .get(EventLog)
      .append({ type: 'alarm', deviceId: event.deviceId, ts: event.ts, data: JSON.stringify(event) }, Date.now());
  }

  async function receiver(answer?: (n: number) => number | 'hang'): Promise<[Receiver, string]> {
    const r = new Receiver(answer);
    receivers.push(r);
    return [r, await r.listen()];
  }

  async function webhook(body: Record<string, unknown>, r: Receiver): Promise<WebhookWithSecret> {
    const created = await api<WebhookWithSecret>(app, app.adminToken, 'POST', '/webhooks', body);
    expect(created.status).toBe(201);
    r.secret = created.body.secret;
    return created.body;
  }

  const deliveries = async (id: string, query = '') =>
    (
      await api<{ items: WebhookDeliveryView[]; nextCursor: string | null }>(
        app,
        app.adminToken,
        'GET',
        `/webhooks/${id}/deliveries${query}`,
      )
    ).body;

  beforeAll(async () => {
    app = await startApp({ WEBHOOK_TIMEOUT_MS: '3000', WEBHOOK_RETRY_BASE_MS: '100' });
    await createDevice(app, 'hook-dev');
  });

  afterAll(async () => {
    await app.stop();
    for (const r of receivers) await r.close();
  });

  it('posts raised and cleared to a receiver, signed, and logs them delivered; the secret is shown once', async () => {
    const [r, url] = await receiver();
    const hook = await webhook({ name: 'ops', url, ruleIds: ['r-ok'] }, r);
    expect(hook.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const read = await api<WebhookView>(app, app.adminToken, 'GET', `/webhooks/${hook.id}`);
    expect(read.body).toEqual({ ...hook, secret: undefined });
    expect(JSON.stringify((await api(app, app.adminToken, 'GET', '/webhooks')).body)).not.toContain(hook.secret);

    raise(alarm('r-ok', 'raised'));
    raise(alarm('r-ok', 'cleared'));
    raise(alarm('r-other', 'raised'));
    await until(() => r.received.length >= 2, 'both transitions received');
    expect(r.received.map((x) => x.signed)).toEqual([true, true]);
    expect(r.received[0].headers['x-iot-event']).toBe('alarm');
    expect(r.received[0].headers['content-type']).toBe('application/json');
    expect(
      r
        .alarms()
        .map((a) => a.alarm.status)
        .sort(),
    ).toEqual(['cleared', 'raised']);
    expect(r.alarms().map((a) => a.alarm.ruleId)).toEqual(['r-ok', 'r-ok']);
    expect(r.alarms().map((a) => a.deliveryId)).toEqual(r.received.map((x) => x.headers['x-iot-delivery']));

    await until(async () => (await deliveries(hook.id, '?status=delivered')).items.length === 2, 'both logged');
    const log = await deliveries(hook.id);
    expect(log.items.map((d) => [d.event, d.status, d.attempts, d.lastStatusCode])).toEqual([
      ['alarm', 'delivered', 1, 200],
      ['alarm', 'delivered', 1, 200],
    ]);
    expect(log.items[0].alarmId).toBe('alarm-r-ok');
    const page = await deliveries(hook.id, '?limit=1');
    expect(page.items).toHaveLength(1);
    expect((await deliveries(hook.id, `?limit=1&cursor=${page.nextCursor}`)).items[0].id).toBe(log.items[1].id);
    expect(r.received).toHaveLength(2);
    expect(await metric(app, 'iot_webhook_deliveries_total{outcome="delivered"}')).toBeGreaterThanOrEqual(2);
  });

  it('retries a receiver that fails twice and then recovers: delivered at the third attempt', async () => {
    const [r, url] = await receiver((n) => (n < 2 ? 500 : 200));
    const hook = await webhook({ name: 'flaky', url, ruleIds: ['r-flaky'] }, r);
    raise(alarm('r-flaky', 'raised'));
    await until(async () => (await deliveries(hook.id, '?status=delivered')).items.length === 1, 'delivered', 15_000);
    expect((await deliveries(hook.id)).items[0]).toMatchObject({
      status: 'delivered',
      attempts: 3,
      lastStatusCode: 200,
      lastError: null,
      nextAttemptAt: null,
    });
    expect(r.received.map((x) => x.signed)).toEqual([true, true, true]);
    // The same delivery each time.
    expect(new Set(r.alarms().map((a) => a.deliveryId)).size).toBe(1);
  });

  it('times out a receiver that never answers, while telemetry keeps reaching streams', async () => {
    const [r, url] = await receiver(() => 'hang');
    const hook = await webhook({ name: 'stuck', url, ruleIds: ['r-hang'] }, r);
    const { credentials } = await createDevice(app, 'hook-sensor');
    const device: MqttClient = await connectDevice(app, credentials);
    const stream = new StreamRecorder(app, app.adminToken, '?devices=hook-sensor&events=telemetry');
    try {
      await stream.opened();
      raise(alarm('r-hang', 'raised'));
      await until(() => r.received.length === 1, 'the hook is waiting on the receiver');
      await device.publishAsync('devices/hook-sensor/telemetry', JSON.stringify({ n: 1 }), { qos: 1 });
      await stream.waitFor((events) => events.length === 1, 2_000);
      // The receiver still has not answered.
      const [pending] = (await deliveries(hook.id)).items;
      expect(pending).toMatchObject({ status: 'pending', attempts: 1, lastError: null });
      await until(
        async () => (await deliveries(hook.id)).items[0].lastError === 'no answer within 3000 ms',
        'the attempt timed out',
      );
      expect((await deliveries(hook.id)).items[0]).toMatchObject({ status: 'pending', lastStatusCode: null });
      await api(app, app.adminToken, 'PUT', `/webhooks/${hook.id}`, { name: 'stuck', url, enabled: false });
    } finally {
      stream.close();
      await device.endAsync();
    }
  });

  it('is for admins; checks its input; pings, rotates the secret, audits without secrets, deletes', async () => {
    const operator = await createUser(app, 'hook-operator', 'operator');
    expect((await api(app, operator, 'GET', '/webhooks')).status).toBe(403);
    expect((await api(app, operator, 'POST', '/webhooks', { name: 'x', url: 'http://a/' })).status).toBe(403);
    for (const body of [
      { name: 'x', url: 'ftp://a/' },
      { name: 'x', url: 'http://user:pw@a/' },
      { name: 'x', url: `http://a/${'x'.repeat(2048)}` },
      { name: 'x', url: 'http://a/', minSeverity: 'apocalyptic' },
      { name: 'x', url: 'http://a/', ruleIds: Array.from({ length: 101 }, (_, i) => `r${i}`) },
    ]) {
      expect((await api(app, app.adminToken, 'POST', '/webhooks', body)).status).toBe(400);
    }

    const [r, url] = await receiver();
    const hook = await webhook({ name: 'pinged', url, minSeverity: 'critical' }, r);
    const ping = await api<{ delivered: boolean; statusCode: number }>(
      app,
      app.adminToken,
      'POST',
      `/webhooks/${hook.id}/test`,
    );
    expect(ping.body).toEqual({ delivered: true, statusCode: 200, error: null });
    expect(r.received[0].signed).toBe(true);
    expect(r.received[0].headers['x-iot-event']).toBe('ping');
    expect(JSON.parse(r.received[0].body)).toMatchObject({ type: 'ping', webhookId: hook.id });

    const rotated = await api<WebhookWithSecret>(app, app.adminToken, 'POST', `/webhooks/${hook.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(hook.secret);
    await api(app, app.adminToken, 'POST', `/webhooks/${hook.id}/test`);
    // Signed with the new secret: the receiver still checks the old one.
    expect(r.received[1].signed).toBe(false);
    r.secret = rotated.body.secret;
    await api(app, app.adminToken, 'POST', `/webhooks/${hook.id}/test`);
    expect(r.received[2].signed).toBe(true);

    // Below the minimum severity: nothing is sent.
    raise(alarm('r-any', 'raised', { severity: 'major' }));
    raise(alarm('r-any', 'raised', { severity: 'critical', alarmId: 'alarm-critical' }));
    await until(() => r.received.length === 4, 'the critical alarm');
    expect(r.alarms()[3].alarm.alarmId).toBe('alarm-critical');

    const audit = await api<{ items: Array<{ action: string; target: string; detail: string | null }> }>(
      app,
      app.adminToken,
      'GET',
      `/audit?target=${hook.id}`,
    );
    expect(audit.body.items.map((e) => e.action)).toEqual([
      'webhook.test',
      'webhook.test',
      'webhook.rotate-secret',
      'webhook.test',
      'webhook.create',
    ]);
    const text = JSON.stringify(audit.body);
    expect(text).not.toContain(hook.secret);
    expect(text).not.toContain(rotated.body.secret);

    expect((await api(app, app.adminToken, 'DELETE', `/webhooks/${hook.id}`)).status).toBe(204);
    expect((await api(app, app.adminToken, 'GET', `/webhooks/${hook.id}`)).status).toBe(404);
    expect((await api(app, app.adminToken, 'GET', `/webhooks/${hook.id}/deliveries`)).status).toBe(404);
    expect((await api(app, app.adminToken, 'GET', '/webhooks/not-an-id')).status).toBe(404);
  });
});
