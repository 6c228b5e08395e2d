import type { MqttClient } from 'mqtt';
import { LIMITS } from '@iot/protocol';
import {
  StreamRecorder,
  type TestApp,
  api,
  connectDevice,
  createDevice,
  metric,
  nextErrorNotice,
  startApp,
} from './harness';

// Issue #13, item 2: one device with many keys and one viewer froze the api.

/** 2025-11-27T09:40:00Z */
const T0 = 1764236400000;
const MAX_KEYS = LIMITS.maxKeysPerDevice;
const keys = Array.from({ length: MAX_KEYS }, (_, i) => `k${String(i).padStart(4, '0')}`);
/** Timed entries of every key, one per millisecond from T0; 80 to a message (about 900 KB). */
const ENTRIES = 240;
const PER_MESSAGE = 80;

type Latest = Record<string, { ts: number; value: unknown }>;
type Series = Record<string, Array<[number, unknown]>>;

describe('telemetry keys per device, and reads that cost what they return', () => {
  let app: TestApp;
  let stream: StreamRecorder;
  let big: MqttClient;

  /** Publishes a marker and waits for its event: everything the device sent before it is stored. */
  async function barrier(client: MqttClient, deviceId: string, key: string): Promise<void> {
    const marker = Math.random();
    await client.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify({ [key]: marker }), { qos: 1 });
    await stream.waitFor(
      (events) => events.some((e) => (e.data['values'] as Record<string, unknown>)[key] === marker),
      20_000,
    );
  }

  beforeAll(async () => {
    // The default bound (TELEMETRY_MAX_KEYS_PER_DEVICE unset); payloads up to 1 MB to load it in a few messages.
    app = await startApp({ MQTT_MAX_PAYLOAD_BYTES: String(1000 * 1000) });
    stream = new StreamRecorder(app, app.adminToken, '?events=telemetry');
    await stream.opened();
    const { credentials } = await createDevice(app, 'big');
    big = await connectDevice(app, credentials);
    for (let first = 0; first < ENTRIES; first += PER_MESSAGE) {
      const batch = Array.from({ length: PER_MESSAGE }, (_, i) => ({
        ts: T0 + first + i,
        values: Object.fromEntries(keys.map((k, j) => [k, first + i + j])),
      }));
      await big.publishAsync('devices/big/telemetry', JSON.stringify(batch), { qos: 1 });
    }
    await barrier(big, 'big', keys[0]);
  }, 60_000);

  afterAll(async () => {
    stream.close();
    await big?.endAsync();
    await app?.stop();
  });

  it('refuses a message that would take a device past the key bound, whole, with an error notice', async () => {
    const notice = await nextErrorNotice(big, 'big');
    const refused = notice();
    // One new key among known ones: the whole message is refused, the known key is not updated either.
    await big.publishAsync('devices/big/telemetry', JSON.stringify({ [keys[1]]: -5, extra: 1 }), { qos: 1 });
    expect(await refused).toEqual({
      topic: 'devices/big/telemetry',
      error: `too many telemetry keys: the device has ${MAX_KEYS} and may have at most ${MAX_KEYS}; this message adds more`,
      ts: expect.any(Number),
    });
    // Known keys are still taken in.
    await barrier(big, 'big', keys[2]);
    const latest = await api<Latest>(app, app.adminToken, 'GET', '/devices/big/telemetry/latest');
    expect(latest.status).toBe(200);
    expect(Object.keys(latest.body)).toHaveLength(MAX_KEYS);
    expect(latest.body).not.toHaveProperty('extra');
    expect(latest.body[keys[1]].value).not.toBe(-5);
    expect(await metric(app, 'iot_messages_rejected_total{reason="too_many_keys"}')).toBeGreaterThan(0);
  });

  it('refuses a single message of more keys than the bound from a new device', async () => {
    const { credentials } = await createDevice(app, 'wide');
    const wide = await connectDevice(app, credentials);
    try {
      const notice = await nextErrorNotice(wide, 'wide');
      const refused = notice();
      const values = Object.fromEntries(Array.from({ length: MAX_KEYS + 1 }, (_, i) => [`w${i}`, i]));
      await wide.publishAsync('devices/wide/telemetry', JSON.stringify(values), { qos: 1 });
      expect((await refused).error).toMatch(/^too many telemetry keys: the device has 0 and may have at most 1000/);
      await barrier(wide, 'wide', 'ok');
      expect((await api<Latest>(app, app.adminToken, 'GET', '/devices/wide/telemetry/latest')).body).toEqual({
        ok: { ts: expect.any(Number), value: expect.any(Number) },
      });
    } finally {
      await wide.endAsync();
    }
  });

  it('answers the history without `keys` with every key of the device, each to its limit', async () => {
    const { body, status } = await api<{ series: Series }>(
      app,
      app.adminToken,
      'GET',
      `/devices/big/telemetry?from=${T0}&to=${T0 + ENTRIES}&order=desc&limit=2`,
    );
    expect(status).toBe(200);
    expect(Object.keys(body.series)).toEqual(keys);
    const last = ENTRIES - 1;
    expect(body.series[keys[0]]).toEqual([
      [T0 + last, last],
      [T0 + last - 1, last - 1],
    ]);
    expect(body.series[keys[999]]).toEqual([
      [T0 + last, last + 999],
      [T0 + last - 1, last + 998],
    ]);
    // A key asked for by name reads the same, and an unknown key is empty.
    const named = await api<{ series: Series }>(
      app,
      app.adminToken,
      'GET',
      `/devices/big/telemetry?keys=${keys[7]},nothing&from=${T0}&to=${T0 + 3}`,
    );
    expect(named.body.series).toEqual({
      [keys[7]]: [
        [T0, 7],
        [T0 + 1, 8],
        [T0 + 2, 9],
      ],
      nothing: [],
    });
  });

  it('answers /healthz while heavy history reads run', async () => {
    // Two aggregates of every key over raw rows: each unpacks every stored value.
    const path = `/devices/big/telemetry?bucket=1s&agg=count&from=${T0}&to=${T0 + 1000}`;
    const order: string[] = [];
    const reads = [1, 2].map((n) =>
      api<{ series: Series }>(app, app.adminToken, 'GET', path).then((answer) => {
        order.push(`read ${n}`);
        return answer;
      }),
    );
    const health = fetch(`${app.url}/healthz`).then((res) => {
      order.push('healthz');
      return res.status;
    });
    const [answers, healthStatus] = await Promise.all([Promise.all(reads), health]);
    expect(healthStatus).toBe(200);
    for (const { status, body } of answers) {
      expect(status).toBe(200);
      expect(Object.keys(body.series)).toHaveLength(MAX_KEYS);
      expect(body.series[keys[3]]).toEqual([[T0, ENTRIES]]);
    }
    // The reads ran off the event loop: /healthz, asked last, did not wait for them.
    expect(order.indexOf('healthz')).toBeLessThan(order.indexOf('read 2'));
  }, 60_000);
});
