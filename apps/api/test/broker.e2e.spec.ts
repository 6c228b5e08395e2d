import { connect as tcpConnect } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { type TestApp, api, closed, connectDevice, createDevice, metric, startApp } from './harness';

describe('embedded broker: device authentication and topic ACL', () => {
  let app: TestApp;
  let credentials: { username: string; password: string };

  beforeAll(async () => {
    app = await startApp();
    credentials = (await createDevice(app, 'acl-1')).credentials;
    await createDevice(app, 'acl-2');
  });

  afterAll(() => app.stop());

  it.each([
    [
      'a wrong secret',
      { username: 'acl-1', password: 'wrong', clientId: 'acl-1' },
      /Bad username or password|Not authorized/i,
    ],
    [
      'an unknown device',
      { username: 'ghost', password: 'x', clientId: 'ghost' },
      /Bad username or password|Not authorized/i,
    ],
    [
      'a client id other than the username',
      { username: 'acl-1', password: '', clientId: 'acl-2' },
      /Bad username or password|Not authorized/i,
    ],
    [
      'an empty client id',
      { username: 'acl-1', password: '', clientId: '' },
      /Identifier rejected|Bad username|Not authorized/i,
    ],
  ])('refuses %s', async (_name, options, message) => {
    const password = options.password === '' ? credentials.password : options.password;
    await expect(
      mqtt.connectAsync(app.mqttUrl, { ...options, password, clean: true, reconnectPeriod: 0, connectTimeout: 3000 }),
    ).rejects.toThrow(message);
  });

  it('refuses an MQTT 5 CONNECT cleanly', async () => {
    await expect(
      mqtt.connectAsync(app.mqttUrl, {
        ...credentials,
        clientId: 'acl-1',
        protocolVersion: 5,
        reconnectPeriod: 0,
        connectTimeout: 3000,
      }),
    ).rejects.toThrow(/Unsupported protocol version|Unacceptable protocol version/i);
  });

  it.each([
    ['#'],
    ['devices/#'],
    ['devices/+/telemetry'],
    ['devices/acl-2/commands/+'],
    ['devices/acl-1/telemetry'],
    ['$SYS/#'],
    ['$SYS/broker/clients'],
  ])('refuses a subscription to %s with SUBACK 0x80 and keeps the session', async (filter) => {
    const client = await connectDevice(app, credentials);
    // MQTT.js rejects a subscribe whose SUBACK refuses the filter, carrying the SUBACK.
    const refusal = (await client.subscribeAsync(filter, { qos: 1 }).catch((e: unknown) => e)) as {
      packet?: { granted: number[] };
    };
    expect(refusal.packet?.granted).toEqual([128]);
    expect(client.connected).toBe(true);
    await client.endAsync();
  });

  it.each([['devices/acl-1/commands/+'], ['devices/acl-1/state/desired'], ['devices/acl-1/errors']])(
    'grants its own %s',
    async (filter) => {
      const client = await connectDevice(app, credentials);
      const granted = await client.subscribeAsync(filter, { qos: 1 });
      expect(granted[0].qos).toBe(1);
      await client.endAsync();
    },
  );

  it.each([
    ['devices/acl-2/telemetry'],
    ['devices/acl-1/commands/abc'],
    ['devices/acl-1/state/desired'],
    ['other/topic'],
    ['$SYS/x'],
  ])('closes the connection of a device that publishes to %s, and counts it', async (topic) => {
    const client = await connectDevice(app, credentials);
    const gone = closed(client);
    client.publish(topic, '{"a":1}', { qos: 1 });
    await gone;
    expect(await metric(app, 'iot_messages_rejected_total{reason="forbidden_topic"}')).toBeGreaterThan(0);
    client.end(true);
  });

  it('drops a connection whose first packet announces a huge size', async () => {
    const socket = tcpConnect(app.mqttPort!, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    // CONNECT with remaining length 200 MB (varint 0x80 0x80 0xe8 0x5f ≈ 200,000,000)
    socket.write(Buffer.from([0x10, 0x80, 0x84, 0xaf, 0x5f, 0x00, 0x04]));
    await new Promise((resolve) => socket.once('close', resolve));
    expect(socket.destroyed).toBe(true);
  });

  it('drops a connected device that announces a packet over the cap', async () => {
    const client = await connectDevice(app, credentials);
    const gone = closed(client);
    // Write a PUBLISH header claiming 2 MiB straight to the socket.
    (client.stream as unknown as { write(b: Buffer): void }).write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x01, 0x00]));
    await gone;
    client.end(true);
  });

  describe('credentials', () => {
    let device: MqttClient;
    let secret: string;

    beforeEach(async () => {
      const id = `rot-${Math.random().toString(36).slice(2, 8)}`;
      const created = await createDevice(app, id);
      secret = created.credentials.password;
      device = await connectDevice(app, created.credentials);
    });

    afterEach(() => {
      device.end(true);
    });

    it('rotation drops the live session, the old secret fails at once, the new one works', async () => {
      const id = device.options.clientId!;
      const gone = closed(device);
      const rotated = await api<{ username: string; password: string }>(
        app,
        app.adminToken,
        'POST',
        `/devices/${id}/credentials`,
      );
      expect(rotated.status).toBe(201);
      expect(rotated.body.password).not.toBe(secret);
      await gone;
      await expect(connectDevice(app, { username: id, password: secret })).rejects.toThrow();
      const fresh = await connectDevice(app, rotated.body);
      expect(fresh.connected).toBe(true);
      await fresh.endAsync();
    });

    it('deletion drops the live session and revokes the secret', async () => {
      const id = device.options.clientId!;
      const gone = closed(device);
      expect((await api(app, app.adminToken, 'DELETE', `/devices/${id}`)).status).toBe(204);
      await gone;
      await expect(connectDevice(app, { username: id, password: secret })).rejects.toThrow();
      expect((await api(app, app.adminToken, 'GET', `/devices/${id}`)).status).toBe(404);
    });
  });
});
