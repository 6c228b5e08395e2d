import type { MqttClient } from 'mqtt';
import type { TelemetrySeriesResponse, TelemetryValue } from '@iot/protocol';
import { TelemetryRetention } from '../src/core/telemetry/telemetry-retention.service';
import { type TestApp, api, connectDevice, createDevice, startApp } from './harness';

/** 2025-11-27T09:00:00Z: history well in the past, so no clock skew rule applies. */
const T = Date.UTC(2025, 10, 27, 9);
const MINUTE = 60_000;
const HOUR = 3_600_000;

interface Entry {
  ts: number;
  values: Record<string, TelemetryValue>;
}

/** Three hours, one entry every 10 s: integer temperatures, a pump flag, a mode string. */
const ENTRIES: Entry[] = Array.from({ length: 3 * 360 }, (_, i) => ({
  ts: T + i * 10_000,
  values: { temperature: (i * 7) % 31, pump: i % 3 === 0, mode: i % 2 === 0 ? 'eco' : 'boost' },
}));

/** The expected aggregate of `key` per bucket, computed here from the entries. */
function expected(
  key: string,
  from: number,
  to: number,
  bucketMs: number,
  agg: string,
): Array<[number, TelemetryValue]> {
  const buckets = new Map<number, TelemetryValue[]>();
  for (const e of ENTRIES) {
    if (e.ts < from || e.ts >= to || !(key in e.values)) continue;
    const b = e.ts - (e.ts % bucketMs);
    buckets.set(b, [...(buckets.get(b) ?? []), e.values[key]]);
  }
  const out: Array<[number, TelemetryValue]> = [];
  for (const [b, values] of [...buckets].sort(([x], [y]) => x - y)) {
    const nums = values.filter((v) => typeof v !== 'string').map(Number);
    const sum = nums.reduce((x, y) => x + y, 0);
    if (agg === 'count') out.push([b, values.length]);
    else if (agg === 'last') out.push([b, values[values.length - 1]]);
    else if (nums.length === 0) continue;
    else if (agg === 'avg') out.push([b, sum / nums.length]);
    else if (agg === 'sum') out.push([b, sum]);
    else if (agg === 'min') out.push([b, Math.min(...nums)]);
    else if (agg === 'max') out.push([b, Math.max(...nums)]);
  }
  return out;
}

async function publishHistory(app: TestApp, deviceId: string): Promise<MqttClient> {
  const device = await connectDevice(app, (await createDevice(app, deviceId)).credentials);
  for (let i = 0; i < ENTRIES.length; i += 500) {
    await device.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify(ENTRIES.slice(i, i + 500)), { qos: 1 });
  }
  // Stored once every point reads back.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { body } = await api<TelemetrySeriesResponse>(
      app,
      app.adminToken,
      'GET',
      `/devices/${deviceId}/telemetry?keys=mode&limit=100000`,
    );
    if (body.series['mode'].length === ENTRIES.length) return device;
    if (Date.now() > deadline) throw new Error(`only ${body.series['mode'].length} points stored`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('telemetry history: aggregation over HTTP', () => {
  let app: TestApp;
  let device: MqttClient;
  const get = (query: string) =>
    api<TelemetrySeriesResponse & { message: string }>(
      app,
      app.adminToken,
      'GET',
      `/devices/hist-1/telemetry?${query}`,
    );

  beforeAll(async () => {
    app = await startApp();
    device = await publishHistory(app, 'hist-1');
  });

  afterAll(async () => {
    await device.endAsync();
    await app.stop();
  });

  it.each(['avg', 'min', 'max', 'sum', 'count', 'last'])(
    'answers agg=%s per bucket from values published over MQTT',
    async (agg) => {
      for (const bucket of [
        ['10m', 10 * MINUTE],
        ['1h', HOUR],
        ['45s', 45_000],
      ] as const) {
        const { status, body } = await get(
          `keys=temperature,pump,mode&from=${T}&to=${T + 3 * HOUR}&bucket=${bucket[0]}&agg=${agg}`,
        );
        expect(status).toBe(200);
        expect(body).toMatchObject({ deviceId: 'hist-1', from: T, to: T + 3 * HOUR, bucketMs: bucket[1], agg });
        for (const key of ['temperature', 'pump', 'mode']) {
          expect([key, body.series[key]]).toEqual([key, expected(key, T, T + 3 * HOUR, bucket[1], agg)]);
        }
      }
    },
  );

  it('reads ISO 8601 times in any offset and labels buckets in UTC epoch ms', async () => {
    // 10:30+01:00 is 09:30Z; 13:00+02:00 is 11:00Z.
    const { status, body } = await get(
      'keys=temperature&from=2025-11-27T10:30:00%2B01:00&to=2025-11-27T13:00:00%2B02:00&bucket=30m&agg=count',
    );
    expect(status).toBe(200);
    expect(body.from).toBe(T + 30 * MINUTE);
    expect(body.series['temperature']).toEqual([
      [T + 30 * MINUTE, 180],
      [T + 60 * MINUTE, 180],
      [T + 90 * MINUTE, 180],
    ]);
    // An unencoded + arrives as a space and still reads as an offset.
    const spaced = await get(
      'keys=temperature&from=2025-11-27T10:30:00 01:00&to=2025-11-27T11:00:00Z&bucket=30m&agg=count',
    );
    expect(spaced.body.series).toEqual(body.series);
  });

  it('puts a point on a bucket edge in the bucket that starts there, and leaves "to" out', async () => {
    // Points at 09:59:50 and 10:00:00; `to` = 10:00:10 excludes the one at 10:00:10.
    const { body } = await get(
      `keys=temperature&from=${T + HOUR - 10_000}&to=${T + HOUR + 10_000}&bucket=1h&agg=count`,
    );
    expect(body.series['temperature']).toEqual([
      [T, 1],
      [T + HOUR, 1],
    ]);
  });

  it('omits empty buckets', async () => {
    const { body } = await get(`keys=temperature&from=${T - 2 * HOUR}&to=${T + HOUR}&bucket=1h&agg=count`);
    expect(body.series['temperature']).toEqual([[T, 360]]);
  });

  it('chooses a bucket for points=N: at most N points over the range, of a size a time axis labels well', async () => {
    const { body } = await get(`from=${T}&to=${T + 3 * HOUR}&points=20&agg=max`);
    expect(body.bucketMs).toBe(10 * MINUTE);
    expect(Object.keys(body.series).sort()).toEqual(['mode', 'pump', 'temperature']);
    expect(body.series['temperature']).toEqual(expected('temperature', T, T + 3 * HOUR, 10 * MINUTE, 'max'));
    expect(body.series['mode']).toEqual([]); // strings have no max
    const fine = await get(`keys=temperature&from=${T}&to=${T + 3 * HOUR}&points=1000`);
    expect(fine.body).toMatchObject({ bucketMs: 15_000, agg: 'avg' });
    expect(fine.body.series['temperature']).toHaveLength(720);
  });

  it('defaults "from" to 24 hours before "to" and applies order and limit to buckets', async () => {
    const { body } = await get(`keys=temperature&to=${T + 3 * HOUR}&bucket=1h&agg=sum&order=desc&limit=2`);
    expect(body.from).toBe(T + 3 * HOUR - 24 * HOUR);
    expect(body.series['temperature']).toEqual(
      expected('temperature', T, T + 3 * HOUR, HOUR, 'sum')
        .reverse()
        .slice(0, 2),
    );
  });

  it('keeps raw queries as they were', async () => {
    const { body } = await get(`keys=temperature&from=${T}&to=${T + 30_000}`);
    expect(body).toEqual({
      deviceId: 'hist-1',
      series: {
        temperature: [
          [T, 0],
          [T + 10_000, 7],
          [T + 20_000, 14],
        ],
      },
    });
  });

  it.each<[string, RegExp]>([
    ['bucket=1m&agg=median', /agg must be one of avg, min, max, sum, count, last/],
    ['bucket=1 minute', /bucket must be a whole number and a unit/],
    ['bucket=1m&points=100', /give "bucket" or "points", not both/],
    ['agg=avg', /"agg" needs "bucket" or "points"/],
    ['points=0', /points must be from 1 to 10000/],
    [`bucket=1s&from=${T}&to=${T + 3 * HOUR}`, /bucket 1s over this range makes 10800 points per key, more than 10000/],
    ['bucket=1s', /more than 10000/], // the default range is 24 hours
    [`bucket=1m&from=${T}&to=${T}`, /"from" must be before "to"/],
    [`bucket=1m&from=4102444800000`, /"from" must be before "to"/], // 2100: after the default "to" (now)
    ['bucket=1m&from=yesterday', /from: expected epoch milliseconds or an ISO 8601 time/],
  ])('refuses %s with a 400 that says why', async (query, message) => {
    const { status, body } = await get(query);
    expect(status).toBe(400);
    expect(body.message).toMatch(message);
  });

  it('answers 404 for an unknown device', async () => {
    const { status } = await api(app, app.adminToken, 'GET', '/devices/nobody/telemetry?bucket=1h');
    expect(status).toBe(404);
  });
});

describe('telemetry history past raw retention', () => {
  let app: TestApp;
  let device: MqttClient;

  beforeAll(async () => {
    app = await startApp({ TELEMETRY_RETENTION: '1d', ROLLUP_RETENTION: '0' });
    device = await publishHistory(app, 'hist-2');
  });

  afterAll(async () => {
    await device.endAsync();
    await app.stop();
  });

  it('prunes raw rows and still answers whole-minute buckets from rollups', async () => {
    const path = `/devices/hist-2/telemetry?keys=temperature&from=${T}&to=${T + 3 * HOUR}`;
    const before = await api<TelemetrySeriesResponse>(app, app.adminToken, 'GET', `${path}&bucket=5m&agg=avg`);
    const counts = await app.app.get(TelemetryRetention).runOnce();
    // Raw history counts messages (three values each).
    expect(counts).toEqual({ raw: ENTRIES.length, minute: 0, hour: 0 });
    const raw = await api<TelemetrySeriesResponse>(app, app.adminToken, 'GET', path);
    expect(raw.body.series['temperature']).toEqual([]);
    const after = await api<TelemetrySeriesResponse>(app, app.adminToken, 'GET', `${path}&bucket=5m&agg=avg`);
    expect(after.body.series).toEqual(before.body.series);
    expect(after.body.series['temperature']).toEqual(expected('temperature', T, T + 3 * HOUR, 5 * MINUTE, 'avg'));
    // points=N keeps to whole minutes there, and a ragged start is read from its whole minute.
    const picked = await api<TelemetrySeriesResponse>(
      app,
      app.adminToken,
      'GET',
      `/devices/hist-2/telemetry?keys=temperature&from=${T + 30_000}&to=${T + 5 * MINUTE}&points=100&agg=count`,
    );
    expect(picked.body).toMatchObject({ from: T, bucketMs: MINUTE });
    expect(picked.body.series['temperature']).toEqual(expected('temperature', T, T + 5 * MINUTE, MINUTE, 'count'));
  });
});
