import mqtt from 'mqtt';
import { StreamRecorder, type TestApp, createDevice, metric, startApp } from './harness';
import { type TestMosquitto, mosquittoMissing, startMosquitto } from './mosquitto';

const missing = mosquittoMissing();
if (missing) console.warn(`skipping the MQTT_URL tests: ${missing}`);
const describeWithMosquitto = missing ? describe.skip : describe;

describeWithMosquitto('with MQTT_URL: an external Mosquitto broker', () => {
  let broker: TestMosquitto;
  let app: TestApp;

  beforeAll(async () => {
    broker = await startMosquitto();
    app = await startApp({ MQTT_URL: broker.url });
  });

  afterAll(async () => {
    await app?.stop();
    await broker?.stop();
  });

  it('bridges telemetry and status from a device on Mosquitto to SSE', async () => {
    await createDevice(app, 'ext-1');
    const stream = new StreamRecorder(app, app.adminToken, '?devices=ext-1');
    await stream.opened();
    const device = await mqtt.connectAsync(broker.url, {
      clientId: 'ext-1',
      protocolVersion: 5,
      will: { topic: 'devices/ext-1/status', payload: Buffer.from('offline'), qos: 1, retain: true },
      reconnectPeriod: 0,
    });
    await device.publishAsync('devices/ext-1/status', 'online', { qos: 1, retain: true });
    await device.publishAsync('devices/ext-1/telemetry', JSON.stringify({ temperature: 19.5 }), { qos: 1 });
    await stream.waitFor((e) => e.some((x) => x.type === 'telemetry'));
    device.stream.destroy(); // an abrupt loss: the broker publishes the will
    await stream.waitFor((e) => e.filter((x) => x.type === 'status').length === 2);
    stream.close();
    expect(stream.events.map((e) => [e.type, e.data['online'] ?? e.data['values']])).toEqual([
      ['status', true],
      ['telemetry', { temperature: 19.5 }],
      ['status', false],
    ]);
    device.end(true);
  });

  it('ignores devices that are not registered, and counts them', async () => {
    const stranger = await mqtt.connectAsync(broker.url, { clientId: 'stranger', reconnectPeriod: 0 });
    await stranger.publishAsync('devices/stranger/telemetry', '{"x":1}', { qos: 1 });
    await stranger.endAsync();
    // Wait for the api to have seen it: the counter is the observable effect.
    for (let i = 0; i < 50; i++) {
      if ((await metric(app, 'iot_messages_rejected_total{reason="unknown_device"}')) > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('the unknown device was not counted');
  });

  it('sends commands with MQTT 5 response topic and correlation data, and takes repeated results once', async () => {
    await createDevice(app, 'ext-2');
    const device = await mqtt.connectAsync(broker.url, { clientId: 'ext-2', protocolVersion: 5, reconnectPeriod: 0 });
    const received = new Promise<{ topic: string; properties: Record<string, unknown> | undefined }>((resolve) =>
      device.once('message', (topic, _payload, packet) =>
        resolve({ topic, properties: packet.properties as Record<string, unknown> }),
      ),
    );
    await device.subscribeAsync('devices/ext-2/commands/+', { qos: 1 });
    await device.publishAsync('devices/ext-2/status', 'online', { qos: 1, retain: true });
    const stream = new StreamRecorder(app, app.adminToken, '?devices=ext-2&events=command');
    await stream.opened();
    const sent = await fetch(`${app.url}/api/v1/devices/ext-2/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'reboot' }),
    });
    const { commandId } = (await sent.json()) as { commandId: string };
    const { topic, properties } = await received;
    expect(topic).toBe(`devices/ext-2/commands/${commandId}`);
    expect(properties?.['responseTopic']).toBe(`devices/ext-2/commands/${commandId}/result`);
    expect(Buffer.from(properties?.['correlationData'] as Buffer).toString()).toBe(commandId);
    // A plain MQTT 5 responder: answer on the response topic, twice.
    for (const status of ['accepted', 'accepted', 'succeeded', 'succeeded']) {
      await device.publishAsync(properties!['responseTopic'] as string, JSON.stringify({ status }), { qos: 1 });
    }
    await stream.waitFor((e) => e.some((x) => x.data['status'] === 'succeeded'));
    const history = (await (
      await fetch(`${app.url}/api/v1/commands/${commandId}`, { headers: { authorization: `Bearer ${app.adminToken}` } })
    ).json()) as { transitions: Array<{ status: string }> };
    expect(history.transitions.map((t) => t.status)).toEqual(['sent', 'accepted', 'succeeded']);
    stream.close();
    await device.endAsync();
  });

  it('reports ready while connected to the broker', async () => {
    const res = await fetch(`${app.url}/readyz`);
    expect(res.status).toBe(200);
  });
});
