import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import type { AlarmEvent } from '@iot/protocol';
import { EventBus } from '../src/core/events/event-bus';
import { WebhookDispatcher } from '../src/core/notifications/webhook-dispatcher.service';
import { WebhookSender } from '../src/core/notifications/webhook-sender';
import type { StoredEvent } from '../src/domain/events';
import type { AppConfig } from '../src/platform/config/config';
import { MetricsService } from '../src/platform/metrics/metrics.service';
import { PgDatabase } from '../src/storage/postgres/pg-database';
import { postgresMissing, startPostgres, type TestPostgres } from './postgres';

const REPLICAS = 3;
const EVENTS = 30;
const config = { webhookTimeoutMs: 5_000, webhookRetryBaseMs: 50 } as AppConfig;

const alarmEvent = (seq: number): StoredEvent => {
  const alarm: AlarmEvent = {
    alarmId: `a${seq}`,
    ruleId: 'r1',
    ruleName: 'rule',
    deviceId: 'd1',
    severity: 'critical',
    status: seq % 2 === 0 ? 'cleared' : 'raised',
    message: 'm',
    ts: seq,
  };
  return { seq, type: 'alarm', deviceId: 'd1', data: JSON.stringify(alarm) } as unknown as StoredEvent;
};

const missing = postgresMissing();
if (missing !== undefined) console.warn(`skipped: ${missing}`);

(missing === undefined ? describe : describe.skip)('webhook deliveries through three replicas on PostgreSQL', () => {
  let cluster: TestPostgres;
  let server: Server;
  const stores: PgDatabase[] = [];
  const dispatchers: WebhookDispatcher[] = [];

  beforeAll(async () => {
    Logger.overrideLogger(false);
    cluster = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    for (const dispatcher of dispatchers) await dispatcher.onApplicationShutdown();
    for (const store of stores) await store.close();
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    cluster?.stop();
  });

  it('sends each event to a webhook once, whichever replicas see it and race for it', async () => {
    // The receiver fails every third request, so retries race with first attempts.
    const seqs: number[] = [];
    let requests = 0;
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const failing = requests++ % 3 === 2;
        if (!failing) seqs.push((JSON.parse(Buffer.concat(chunks).toString()) as { seq: number }).seq);
        setTimeout(() => res.writeHead(failing ? 503 : 200).end(), 5);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

    const database = cluster.createDatabase('webhooks');
    const buses: EventBus[] = [];
    for (let i = 0; i < REPLICAS; i++) {
      const store = await PgDatabase.open(database, { poolSize: 4 });
      stores.push(store);
      const bus = new EventBus();
      const dispatcher = new WebhookDispatcher(bus, store.webhooks, new WebhookSender(), new MetricsService(), config);
      dispatcher.onApplicationBootstrap();
      buses.push(bus);
      dispatchers.push(dispatcher);
    }
    await stores[0].webhooks.insert({
      id: 'w1',
      name: 'ops',
      url,
      secret: 's',
      minSeverity: null,
      ruleIds: null,
      enabled: true,
      createdBy: 'admin',
      createdAt: 1,
      updatedAt: 1,
    });

    // Every replica sees every event, in batches of its own.
    for (let seq = 1; seq <= EVENTS; seq += 3) {
      for (const bus of buses) bus.emit('committed', [seq, seq + 1, seq + 2].map(alarmEvent), []);
    }
    const deadline = Date.now() + 20_000;
    let delivered = 0;
    while (delivered < EVENTS && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      delivered = (await stores[0].webhooks.deliveries('w1', { limit: 1000, status: 'delivered' })).length;
    }
    for (const dispatcher of dispatchers) await dispatcher.idle();

    const log = await stores[0].webhooks.deliveries('w1', { limit: 1000 });
    expect(log).toHaveLength(EVENTS);
    expect(log.every((d) => d.status === 'delivered')).toBe(true);
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
    // Every request is one attempt of one delivery: none was sent by two replicas.
    expect(log.reduce((sum, d) => sum + d.attempts, 0)).toBe(requests);
  }, 30_000);
});
