import type { MqttClient } from 'mqtt';
import { APP_CONFIG, type AppConfig } from '../src/platform/config/config';
import { EventRetention } from '../src/core/events/event-retention.service';
import { StreamRecorder, type TestApp, connectDevice, createDevice, startApp } from './harness';

const values = (events: { data: Record<string, unknown> }[]) => events.map((e) => (e.data['values'] as { n: number }).n);

describe('SSE resume with Last-Event-ID', () => {
  let app: TestApp;
  let a: MqttClient;
  let b: MqttClient;

  beforeAll(async () => {
    app = await startApp();
    a = await connectDevice(app, (await createDevice(app, 'dev-a')).credentials);
    b = await connectDevice(app, (await createDevice(app, 'dev-b')).credentials);
  });

  afterAll(async () => {
    await a.endAsync();
    await b.endAsync();
    await app.stop();
  });

  async function publish(client: MqttClient, deviceId: string, from: number, to: number): Promise<void> {
    for (let n = from; n < to; n++) {
      await client.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify({ n }), { qos: 1 });
    }
  }

  it('delivers exactly the missed events after a reconnect, then live ones', async () => {
    const first = new StreamRecorder(app, app.adminToken, '?events=telemetry&devices=dev-a');
    await first.opened();
    await publish(a, 'dev-a', 0, 5);
    await first.waitFor((e) => e.length === 5);
    const lastId = first.events[4].id;
    first.close();

    // Missed while away: 5..2004 (more than one replay page), interleaved with another device.
    await Promise.all([publish(a, 'dev-a', 5, 2005), publish(b, 'dev-b', 0, 50)]);

    const second = new StreamRecorder(app, app.adminToken, '?events=telemetry&devices=dev-a', lastId);
    await second.opened();
    await second.waitFor((e) => e.length === 2000, 10_000);
    await publish(a, 'dev-a', 2005, 2010);
    await second.waitFor((e) => e.length === 2005);
    second.close();

    const received = values(second.events);
    expect(received).toEqual(Array.from({ length: 2005 }, (_, i) => i + 5));
    expect(new Set(second.events.map((e) => e.id)).size).toBe(2005);
    expect(second.events.every((e) => e.data['deviceId'] === 'dev-a')).toBe(true);
  });

  it('keeps resume exact while events keep arriving during the replay', async () => {
    const first = new StreamRecorder(app, app.adminToken, '?devices=dev-b&events=telemetry');
    await first.opened();
    await publish(b, 'dev-b', 1000, 1001);
    await first.waitFor((e) => e.length === 1);
    const lastId = first.events[0].id;
    first.close();
    await publish(b, 'dev-b', 1001, 1500);

    const second = new StreamRecorder(app, app.adminToken, '?devices=dev-b&events=telemetry', lastId);
    // Publish concurrently with the replay.
    const live = publish(b, 'dev-b', 1500, 1700);
    await second.opened();
    await live;
    await second.waitFor((e) => e.length === 699, 10_000);
    second.close();
    expect(values(second.events)).toEqual(Array.from({ length: 699 }, (_, i) => i + 1001));
  });

  it.each([
    ['a foreign id', 'not-ours-42'],
    ['an id from another database', 'zzzzzz-1'],
    ['an id from the future', undefined],
  ])('sends reset for %s and goes on live', async (_name, badId) => {
    const probe = new StreamRecorder(app, app.adminToken, '?events=telemetry&devices=dev-a');
    await probe.opened();
    await publish(a, 'dev-a', 5000, 5001);
    await probe.waitFor((e) => e.length === 1);
    const [epoch] = probe.events[0].id.split('-');
    probe.close();

    const id = badId ?? `${epoch}-999999999`;
    const stream = new StreamRecorder(app, app.adminToken, '?events=telemetry&devices=dev-a', id);
    await stream.opened();
    await stream.waitFor((e) => e.some((x) => x.type === 'reset'));
    await publish(a, 'dev-a', 5001, 5002);
    await stream.waitFor((e) => e.some((x) => x.type === 'telemetry'));
    stream.close();
    expect(stream.events.map((e) => e.type)).toEqual(['reset', 'telemetry']);
    expect(stream.events[0].data['reason']).toEqual(expect.any(String));
    expect(values(stream.events.slice(1))).toEqual([5001]);
  });

  it('sends reset for an id older than the log keeps', async () => {
    const first = new StreamRecorder(app, app.adminToken, '?events=telemetry&devices=dev-a');
    await first.opened();
    await publish(a, 'dev-a', 7000, 7002);
    await first.waitFor((e) => e.length === 2);
    first.close();
    // Retention passes: everything stored so far is pruned.
    await app.app.get(EventRetention).runOnce(Date.now() + app.app.get<AppConfig>(APP_CONFIG).eventRetentionMs + 1);
    const second = new StreamRecorder(app, app.adminToken, '?events=telemetry&devices=dev-a', first.events[0].id);
    await second.waitFor((e) => e.length === 1);
    second.close();
    expect(second.events[0]).toMatchObject({ type: 'reset', data: { reason: 'event id too old' } });
  });

  it('accepts the id as ?lastEventId= too', async () => {
    const first = new StreamRecorder(app, app.adminToken, '?events=telemetry&devices=dev-a');
    await first.opened();
    await publish(a, 'dev-a', 6000, 6001);
    await first.waitFor((e) => e.length === 1);
    first.close();
    await publish(a, 'dev-a', 6001, 6003);
    const second = new StreamRecorder(app, app.adminToken, `?events=telemetry&devices=dev-a&lastEventId=${first.events[0].id}`);
    await second.waitFor((e) => e.length === 2);
    second.close();
    expect(values(second.events)).toEqual([6001, 6002]);
  });

  it('rejects bad filters with 400, and no token with 401', async () => {
    const bad = await fetch(`${app.url}/api/v1/stream?events=bogus`, { headers: { authorization: `Bearer ${app.adminToken}` } });
    expect(bad.status).toBe(400);
    const anonymous = await fetch(`${app.url}/api/v1/stream`);
    expect(anonymous.status).toBe(401);
  });

  it('opens with retry: and sends status events on connect and disconnect', async () => {
    const res = await fetch(`${app.url}/api/v1/stream?devices=dev-c`, { headers: { authorization: `Bearer ${app.adminToken}` } });
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toMatch(/^retry: \d+\n\n/);
    await reader.cancel();

    const stream = new StreamRecorder(app, app.adminToken, '?events=status&devices=dev-c');
    await stream.opened();
    const c = await connectDevice(app, (await createDevice(app, 'dev-c')).credentials);
    await stream.waitFor((e) => e.length === 1);
    await c.endAsync();
    await stream.waitFor((e) => e.length === 2);
    stream.close();
    expect(stream.events.map((e) => e.data['online'])).toEqual([true, false]);
  });
});
