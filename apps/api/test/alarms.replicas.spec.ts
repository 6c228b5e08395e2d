import type { MqttClient } from 'mqtt';
import type { AlarmListResponse, AlarmRuleView, CreateDeviceResponse } from '@iot/protocol';
import { api, connectDevice, metric, startApp, StreamRecorder, type TestApp } from './harness';
import { postgresMissing, startPostgres, type TestPostgres } from './postgres';

const missing = postgresMissing();
if (missing !== undefined) console.warn(`skipped: ${missing}`);

(missing === undefined ? describe : describe.skip)('alarms with two api replicas on one PostgreSQL', () => {
  let cluster: TestPostgres;
  const apps: TestApp[] = [];
  const streams: StreamRecorder[] = [];
  let device: MqttClient | undefined;

  beforeAll(async () => {
    cluster = await startPostgres();
  }, 60_000);

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await device?.endAsync();
    for (const app of apps) await app.stop();
    cluster?.stop();
  });

  it('both evaluate every event, one alarm is raised and cleared once, and both stream it once', async () => {
    const url = cluster.createDatabase('alarms_replicas');
    for (let i = 0; i < 2; i++) apps.push(await startApp({ DATABASE_URL: url }));
    const [a, b] = apps;
    const created = await api<CreateDeviceResponse>(a, a.adminToken, 'POST', '/devices', {
      id: 'rep-1',
      name: 'rep-1',
      labels: { site: 'a' },
    });
    expect(created.status).toBe(201);
    // Made through b: a hears of it by the replicas' channel.
    const rule = await api<AlarmRuleView>(b, b.adminToken, 'POST', '/alarm-rules', {
      name: 'hot',
      severity: 'minor',
      target: { labels: 'site=a' },
      condition: { kind: 'above', key: 't', threshold: 10, forMs: 200 },
    });
    expect(rule.status).toBe(201);
    for (const app of apps) {
      const stream = new StreamRecorder(app, app.adminToken, '?events=alarm');
      streams.push(stream);
      await stream.opened();
    }

    // The device's messages reach a only; b reads them from the shared log.
    device = await connectDevice(a, created.body.credentials);
    await device.publishAsync('devices/rep-1/telemetry', JSON.stringify({ t: 11 }), { qos: 1 });
    for (const stream of streams) await stream.waitFor((events) => events.length >= 1);
    await device.publishAsync('devices/rep-1/telemetry', JSON.stringify({ t: 12 }), { qos: 1 });
    await device.publishAsync('devices/rep-1/telemetry', JSON.stringify({ t: 9 }), { qos: 1 });
    for (const stream of streams) await stream.waitFor((events) => events.length >= 2);
    // Another raise and clear, had either replica written twice, would have come by the time a later event did.
    await device.publishAsync('devices/rep-1/telemetry', JSON.stringify({ t: 13 }), { qos: 1 });
    for (const stream of streams) await stream.waitFor((events) => events.length >= 3);

    for (const stream of streams) {
      expect(stream.events.map((e) => [e.data['status'], e.data['deviceId']])).toEqual([
        ['raised', 'rep-1'],
        ['cleared', 'rep-1'],
        ['raised', 'rep-1'],
      ]);
      expect(stream.events.map((e) => e.id)).toEqual(streams[0].events.map((e) => e.id));
    }
    const alarms = await api<AlarmListResponse>(b, b.adminToken, 'GET', '/alarms');
    expect(alarms.body.items.map((x) => x.status)).toEqual(['raised', 'cleared']);
    const raised =
      (await metric(a, 'iot_alarms_raised_total{severity="minor"}')) +
      (await metric(b, 'iot_alarms_raised_total{severity="minor"}'));
    expect(raised).toBe(2);
    expect(await metric(a, 'iot_alarms_open')).toBe(1);
    expect(await metric(b, 'iot_alarms_open')).toBe(1);
  }, 60_000);
});
