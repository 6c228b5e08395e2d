import type { MqttClient } from 'mqtt';
import {
  type StreamRecorder as Recorder,
  StreamRecorder,
  type TestApp,
  api,
  connectDevice,
  createDevice,
  metric,
  nextErrorNotice,
  startApp,
} from './harness';

describe('telemetry ingest (MQTT → storage → SSE)', () => {
  let app: TestApp;
  let device: MqttClient;
  let stream: Recorder;

  beforeAll(async () => {
    app = await startApp({ MQTT_MAX_PAYLOAD_BYTES: '4096', TELEMETRY_MAX_BATCH: '10' });
    const { credentials } = await createDevice(app, 'thermo-1');
    stream = new StreamRecorder(app, app.adminToken, '?events=telemetry');
    await stream.opened();
    device = await connectDevice(app, credentials);
  });

  afterAll(async () => {
    stream.close();
    await device.endAsync();
    await app.stop();
  });

  /** Publishes a sentinel and waits for it: everything published before it has been handled. */
  async function barrier(): Promise<void> {
    const marker = Math.random();
    await device.publishAsync('devices/thermo-1/telemetry', JSON.stringify({ marker }), { qos: 1 });
    await stream.waitFor((events) =>
      events.some((e) => (e.data['values'] as Record<string, unknown>)['marker'] === marker),
    );
  }

  it('delivers a flat message with the receive time', async () => {
    const before = Date.now();
    await device.publishAsync('devices/thermo-1/telemetry', '{"temperature":21.5,"on":true,"mode":"eco"}', { qos: 1 });
    const [event] = (
      await stream.waitFor((e) => e.some((x) => x.data['values'] && 'temperature' in (x.data['values'] as object)))
    ).filter((e) => 'temperature' in (e.data['values'] as object));
    expect(event.data).toEqual({
      deviceId: 'thermo-1',
      ts: expect.any(Number),
      values: { temperature: 21.5, on: true, mode: 'eco' },
    });
    expect(event.data['ts']).toBeGreaterThanOrEqual(before);
    const latest = await api<Record<string, { ts: number; value: unknown }>>(
      app,
      app.adminToken,
      'GET',
      '/devices/thermo-1/telemetry/latest',
    );
    expect(latest.body['temperature'].value).toBe(21.5);
    expect(latest.body['on'].value).toBe(true);
    expect(latest.body['mode'].value).toBe('eco');
  });

  it('passes a flat message on as the device wrote it, and one with line breaks re-serialised', async () => {
    // Spaced out, the text goes into the event as it is; a line break would end the SSE data line.
    await device.publishAsync('devices/thermo-1/telemetry', '{ "altitude" : 12 , "unit": "m" }', { qos: 1 });
    await device.publishAsync('devices/thermo-1/telemetry', '{"pressure": 1013.2,\r\n "unit": "hPa"}\n', { qos: 1 });
    const has = (e: { data: Record<string, unknown> }, key: string) =>
      key in ((e.data['values'] as object | undefined) ?? {});
    const events = await stream.waitFor((e) => e.some((x) => has(x, 'pressure')));
    expect(events.find((e) => has(e, 'altitude'))?.data).toEqual({
      deviceId: 'thermo-1',
      ts: expect.any(Number),
      values: { altitude: 12, unit: 'm' },
    });
    expect(events.find((e) => has(e, 'pressure'))?.data).toEqual({
      deviceId: 'thermo-1',
      ts: expect.any(Number),
      values: { pressure: 1013.2, unit: 'hPa' },
    });
    const latest = await api<Record<string, { ts: number; value: unknown }>>(
      app,
      app.adminToken,
      'GET',
      '/devices/thermo-1/telemetry/latest',
    );
    expect(latest.body['altitude'].value).toBe(12);
    expect(latest.body['pressure'].value).toBe(1013.2);
    expect(latest.body['unit'].value).toBe('hPa');
  });

  it('keeps the device time of a timed message, in epoch ms or ISO 8601', async () => {
    await device.publishAsync(
      'devices/thermo-1/telemetry',
      JSON.stringify({ ts: 1_700_000_000_000, values: { humidity: 40 } }),
      { qos: 1 },
    );
    await device.publishAsync(
      'devices/thermo-1/telemetry',
      JSON.stringify({ ts: '2023-11-14T22:13:21+00:00', values: { humidity: 41 } }),
      { qos: 1 },
    );
    const events = await stream.waitFor(
      (e) => e.filter((x) => 'humidity' in (x.data['values'] as object)).length === 2,
    );
    const humidity = events.filter((x) => 'humidity' in (x.data['values'] as object)).map((x) => x.data['ts']);
    expect(humidity).toEqual([1_700_000_000_000, 1_700_000_001_000]);
    const history = await api<{ series: Record<string, unknown[]> }>(
      app,
      app.adminToken,
      'GET',
      '/devices/thermo-1/telemetry?keys=humidity',
    );
    expect(history.body.series['humidity']).toEqual([
      [1_700_000_000_000, 40],
      [1_700_000_001_000, 41],
    ]);
  });

  it('turns a batch into one event per entry, in order', async () => {
    const batch = [1, 2, 3].map((i) => ({ ts: 1_600_000_000_000 + i, values: { power: i * 10 } }));
    await device.publishAsync('devices/thermo-1/telemetry', JSON.stringify(batch), { qos: 1 });
    const events = await stream.waitFor((e) => e.filter((x) => 'power' in (x.data['values'] as object)).length === 3);
    expect(events.filter((x) => 'power' in (x.data['values'] as object)).map((x) => x.data['values'])).toEqual([
      { power: 10 },
      { power: 20 },
      { power: 30 },
    ]);
  });

  it.each([
    ['invalid JSON', '{"temperature": ', /not valid JSON/],
    ['a nested object', '{"temperature": {"c": 21}}', /temperature/],
    ['a bad key', '{"1temp": 21}', /keys must match/],
    ['a string over 256 chars', JSON.stringify({ note: 'x'.repeat(257) }), /256/],
    ['an empty object', '{}', /at least one value/],
    ['a time too far ahead', JSON.stringify({ ts: Date.now() + 3_600_000, values: { rejected: 1 } }), /ahead/],
    ['a batch with one bad entry', JSON.stringify([{ rejected: 1 }, { rejected: null }]), /\[1\]/],
    [
      'a batch over the limit',
      JSON.stringify(Array.from({ length: 11 }, () => ({ rejected: 1 }))),
      /at most 10 entries/,
    ],
    ['a payload over the limit', JSON.stringify({ rejected: 'y'.repeat(200), pad: 'z'.repeat(4000) }), /limit/],
  ])('refuses %s whole, tells the device why, and stores nothing', async (_name, payload, reason) => {
    const notice = await nextErrorNotice(device, 'thermo-1');
    const received = notice();
    const before = stream.events.length;
    await device.publishAsync('devices/thermo-1/telemetry', payload, { qos: 1 });
    const { topic, error, ts } = await received;
    expect(topic).toBe('devices/thermo-1/telemetry');
    expect(error).toMatch(reason);
    expect(ts).toEqual(expect.any(Number));
    await barrier();
    const since = stream.events.slice(before);
    expect(since).toHaveLength(1); // the barrier only
    expect(since.some((e) => 'rejected' in (e.data['values'] as object))).toBe(false);
    const latest = await api<Record<string, unknown>>(app, app.adminToken, 'GET', '/devices/thermo-1/telemetry/latest');
    expect(latest.body['rejected']).toBeUndefined();
  });

  it('counts refusals by reason in /metrics', async () => {
    expect(await metric(app, 'iot_messages_rejected_total{reason="invalid_json"}')).toBeGreaterThan(0);
    expect(await metric(app, 'iot_messages_rejected_total{reason="batch_too_large"}')).toBeGreaterThan(0);
    expect(await metric(app, 'iot_messages_received_total{kind="telemetry"}')).toBeGreaterThan(0);
  });

  it('answers history queries with clear 400s for bad ranges', async () => {
    const bad = await api<{ message: string }>(
      app,
      app.adminToken,
      'GET',
      '/devices/thermo-1/telemetry?from=2024-01-02&to=2024-01-01',
    );
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/before/);
    const missing = await api(app, app.adminToken, 'GET', '/devices/nobody/telemetry/latest');
    expect(missing.status).toBe(404);
  });
});
