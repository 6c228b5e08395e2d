import mqtt, { type MqttClient } from 'mqtt';
import {
  type BrokerSyncResponse,
  type CreateDeviceResponse,
  type DeviceCredentials,
  brokerSyncResponseSchema,
} from '@iot/protocol';
import { StreamRecorder, type TestApp, api, closed, createDevice, metric, startApp, within } from './harness';
import { type TestMosquitto, dynsecMissing, startMosquitto } from './mosquitto';

const ADMIN_USER = { username: 'broker-admin', password: 'broker-admin-password' };
const DYNSEC = '$CONTROL/dynamic-security/v1';

const skipReason = dynsecMissing();
if (skipReason) console.warn(`skipping the Mosquitto dynamic-security tests: ${skipReason}`);
const describeWithDynsec = skipReason ? describe.skip : describe;

interface DynsecAnswer {
  command: string;
  error?: string;
  data?: unknown;
}

describeWithDynsec('with MQTT_DYNSEC: device credentials in Mosquitto dynamic security', () => {
  let broker: TestMosquitto;
  let app: TestApp;
  /** The broker's admin, to look at and change dynsec behind the api's back. */
  let admin: MqttClient;
  const clients: MqttClient[] = [];

  async function dynsec(...commands: Array<Record<string, unknown>>): Promise<DynsecAnswer[]> {
    const answer = new Promise<DynsecAnswer[]>((resolve) =>
      admin.once('message', (_topic, payload) =>
        resolve((JSON.parse(payload.toString()) as { responses: DynsecAnswer[] }).responses),
      ),
    );
    await admin.publishAsync(DYNSEC, JSON.stringify({ commands }), { qos: 1 });
    return within(answer, 5000, 'the dynsec answer');
  }

  function connect(credentials: DeviceCredentials, protocolVersion: 4 | 5 = 5): Promise<MqttClient> {
    return mqtt
      .connectAsync(broker.url, {
        clientId: credentials.username,
        username: credentials.username,
        password: credentials.password,
        protocolVersion,
        reconnectPeriod: 0,
        connectTimeout: 5000,
      })
      .then((client) => (clients.push(client), client));
  }

  beforeAll(async () => {
    broker = await startMosquitto({ dynsec: ADMIN_USER });
    app = await startApp({
      MQTT_URL: broker.url,
      MQTT_USERNAME: ADMIN_USER.username,
      MQTT_PASSWORD: ADMIN_USER.password,
      MQTT_DYNSEC: 'true',
    });
    admin = await mqtt.connectAsync(broker.url, { ...ADMIN_USER, protocolVersion: 5, reconnectPeriod: 0 });
    await admin.subscribeAsync(`${DYNSEC}/response`);
  });

  afterAll(async () => {
    for (const client of clients) client.end(true);
    await admin?.endAsync();
    await app?.stop();
    await broker?.stop();
  });

  it('lets a registered device log in with its secret and only then, and bridges its telemetry to SSE', async () => {
    const { credentials } = await createDevice(app, 'ds-1');
    await expect(connect({ ...credentials, password: 'not-the-secret' })).rejects.toThrow(
      /Bad User Name or Password|Not authorized/i,
    );
    const stream = new StreamRecorder(app, app.adminToken, '?devices=ds-1');
    await stream.opened();
    const device = await connect(credentials);
    await device.publishAsync('devices/ds-1/telemetry', JSON.stringify({ temperature: 21.5 }), { qos: 1 });
    await stream.waitFor((events) => events.some((e) => e.type === 'telemetry'));
    stream.close();
    expect(stream.of('telemetry').map((e) => e.data['values'])).toEqual([{ temperature: 21.5 }]);
  });

  it("keeps a device off another device's topics", async () => {
    const mine = await createDevice(app, 'ds-own');
    await createDevice(app, 'ds-other');
    const stream = new StreamRecorder(app, app.adminToken, '?devices=ds-own,ds-other&events=telemetry');
    await stream.opened();
    const device = await connect(mine.credentials);
    // MQTT 5 answers a refused publish with a reason code, which MQTT.js turns into an error.
    await expect(device.publishAsync('devices/ds-other/telemetry', '{"forged":1}', { qos: 1 })).rejects.toThrow();
    await expect(device.subscribeAsync('devices/ds-other/commands/+')).rejects.toThrow();
    await expect(device.subscribeAsync('devices/+/telemetry')).rejects.toThrow();
    // Its own topics work; what it sends arrives in order, so the forgery would have come first.
    await device.subscribeAsync('devices/ds-own/commands/+');
    await device.publishAsync('devices/ds-own/telemetry', '{"mine":1}', { qos: 1 });
    await stream.waitFor((events) => events.length > 0);
    stream.close();
    expect(stream.events.map((e) => e.data['deviceId'])).toEqual(['ds-own']);
  });

  it('drops the session on rotation: the old secret is refused, the new one works', async () => {
    const { credentials } = await createDevice(app, 'ds-rot');
    const device = await connect(credentials);
    const { status, body: rotated } = await api<DeviceCredentials>(
      app,
      app.adminToken,
      'POST',
      '/devices/ds-rot/credentials',
    );
    expect(status).toBe(201);
    await within(closed(device), 5000, 'the kick on rotation');
    await expect(connect(credentials)).rejects.toThrow();
    const again = await connect(rotated);
    expect(again.connected).toBe(true);
  });

  it('drops the session on deletion, and the device cannot log in again', async () => {
    const { credentials } = await createDevice(app, 'ds-del');
    const device = await connect(credentials);
    expect((await api(app, app.adminToken, 'DELETE', '/devices/ds-del')).status).toBe(204);
    await within(closed(device), 5000, 'the kick on deletion');
    await expect(connect(credentials)).rejects.toThrow();
    const [client, role] = await dynsec(
      { command: 'getClient', username: 'ds-del' },
      { command: 'getRole', rolename: 'iot-device-ds-del' },
    );
    expect([client.error, role.error]).toEqual(['Client not found', 'Role not found']);
  });

  it("re-sync creates the devices the broker lacks (disabled until rotated), deletes the ones the api does not know, and leaves the broker's other users alone", async () => {
    const lost = await createDevice(app, 'ds-lost');
    await createDevice(app, 'ds-kept');
    // Behind the api's back: one device lost, one stray device client left over.
    await dynsec(
      { command: 'deleteClient', username: 'ds-lost' },
      { command: 'deleteRole', rolename: 'iot-device-ds-lost' },
    );
    await dynsec(
      { command: 'createRole', rolename: 'iot-device-ds-stray', textname: 'iot-device' },
      {
        command: 'createClient',
        username: 'ds-stray',
        password: 'stray-password',
        textname: 'iot-device',
        roles: [{ rolename: 'iot-device-ds-stray' }],
      },
      { command: 'createClient', username: 'someone-else', password: 'someone-else-password' },
    );

    const { status, body } = await api<BrokerSyncResponse>(app, app.adminToken, 'POST', '/broker/sync');
    expect(status).toBe(200);
    expect(brokerSyncResponseSchema.strict().safeParse(body).error).toBeUndefined();
    expect(body).toEqual({ created: ['ds-lost'], deleted: ['ds-stray'], repaired: [], credentials: [] });
    // The api has only a hash: the recreated client waits, disabled, for a rotation.
    await expect(connect(lost.credentials)).rejects.toThrow();
    const [stray, strayRole, other, kept] = await dynsec(
      { command: 'getClient', username: 'ds-stray' },
      { command: 'getRole', rolename: 'iot-device-ds-stray' },
      { command: 'getClient', username: 'someone-else' },
      { command: 'getClient', username: 'ds-kept' },
    );
    expect([stray.error, strayRole.error, other.error, kept.error]).toEqual([
      'Client not found',
      'Role not found',
      undefined,
      undefined,
    ]);
    const { body: rotated } = await api<DeviceCredentials>(app, app.adminToken, 'POST', '/devices/ds-lost/credentials');
    const device = await connect(rotated);
    await expect(device.publishAsync('devices/ds-kept/telemetry', '{"x":1}', { qos: 1 })).rejects.toThrow();
    await device.publishAsync('devices/ds-lost/telemetry', '{"x":1}', { qos: 1 });
  });

  it('re-sync with rotate=true answers new secrets for the devices the broker lacked, which log in at once', async () => {
    await createDevice(app, 'ds-fresh');
    await dynsec({ command: 'deleteClient', username: 'ds-fresh' });
    const { status, body } = await api<BrokerSyncResponse>(app, app.adminToken, 'POST', '/broker/sync?rotate=true');
    expect(status).toBe(200);
    expect(body.created).toEqual(['ds-fresh']);
    expect(body.credentials.map((c) => c.username)).toEqual(['ds-fresh']);
    const device = await connect(body.credentials[0]);
    expect(device.connected).toBe(true);
    // Nothing left to do.
    const second = await api<BrokerSyncResponse>(app, app.adminToken, 'POST', '/broker/sync');
    expect(second.body).toEqual({ created: [], deleted: [], repaired: [], credentials: [] });
  });

  it('refuses a registration the broker does not take, keeping no device that could not log in', async () => {
    // A broker user that may subscribe but not send dynsec commands.
    await dynsec(
      {
        command: 'createRole',
        rolename: 'no-control',
        acls: [
          { acltype: 'subscribePattern', topic: '#', allow: true },
          { acltype: 'subscribePattern', topic: '$CONTROL/dynamic-security/#', allow: true },
        ],
      },
      {
        command: 'createClient',
        username: 'no-control',
        password: 'no-control-password',
        roles: [{ rolename: 'no-control' }],
      },
    );
    const limited = await startApp({
      MQTT_URL: broker.url,
      MQTT_USERNAME: 'no-control',
      MQTT_PASSWORD: 'no-control-password',
      MQTT_DYNSEC: 'true',
      MQTT_DYNSEC_TIMEOUT_SECONDS: '1',
    });
    try {
      const { status } = await api<CreateDeviceResponse>(limited, limited.adminToken, 'POST', '/devices', {
        id: 'ds-refused',
        name: 'refused',
      });
      expect(status).toBe(503);
      expect((await api(limited, limited.adminToken, 'GET', '/devices/ds-refused')).status).toBe(404);
      expect(await metric(limited, 'iot_broker_credential_failures_total{operation="register"}')).toBe(1);
    } finally {
      await limited.stop();
    }
  });
});
