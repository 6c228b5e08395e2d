import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { StreamRecorder, type TestApp, api, connectDevice, createDevice, startApp } from './harness';

async function scrape(app: TestApp): Promise<string> {
  return (await fetch(`${app.url}/metrics`)).text();
}

/** The value of one sample (`name{labels}` exactly as printed), 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** The sum of every sample of `name`, whatever its labels. */
function total(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Every series name the api can print: histograms and summaries add their suffixes. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match;
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
]);

/** The metric names a PromQL expression reads: not functions, label names, strings, ranges or variables. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\$\{?\w+\}?/g, '');
  const names: string[] = [];
  for (const match of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?!\s*\()/g)) {
    // The lookahead may cut a function name short: skip an identifier whose full word is followed by "(".
    const end = match.index + match[0].length;
    if (/^[A-Za-z0-9_:]/.test(bare.slice(end))) continue;
    if (!PROMQL_WORDS.has(match[0])) names.push(match[0]);
  }
  return names;
}

interface Panel {
  title: string;
  type: string;
  datasource?: { uid?: string };
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}

describe('metrics', () => {
  let app: TestApp;
  let device: MqttClient;

  beforeAll(async () => {
    app = await startApp();
    const { credentials } = await createDevice(app, 'meter-1');
    device = await connectDevice(app, credentials);
  });

  afterAll(async () => {
    await device.endAsync();
    await app.stop();
  });

  it('counts an HTTP 404 by its route pattern, not as a rejected message', async () => {
    const before = await scrape(app);
    const missing = await api(app, app.adminToken, 'GET', '/devices/no-such-device');
    expect(missing.status).toBe(404);
    const unknown = await api(app, app.adminToken, 'GET', '/no/such/route/42');
    expect(unknown.status).toBe(404);
    const after = await scrape(app);

    expect(total(after, 'iot_messages_rejected_total')).toBe(total(before, 'iot_messages_rejected_total'));
    const byRoute = '{method="GET",route="/api/v1/devices/:id",status="404"}';
    expect(sample(after, `iot_http_requests_total${byRoute}`)).toBe(
      sample(before, `iot_http_requests_total${byRoute}`) + 1,
    );
    expect(sample(after, `iot_http_request_duration_seconds_count${byRoute}`)).toBe(
      sample(before, `iot_http_request_duration_seconds_count${byRoute}`) + 1,
    );
    const unmatched = '{method="GET",route="unmatched",status="404"}';
    expect(sample(after, `iot_http_requests_total${unmatched}`)).toBe(
      sample(before, `iot_http_requests_total${unmatched}`) + 1,
    );
    // Never the raw URL.
    expect(after).not.toContain('no-such-device');
    expect(after).not.toContain('/no/such/route');
  });

  it('counts a refused device message in iot_messages_rejected_total', async () => {
    const series = 'iot_messages_rejected_total{reason="invalid_json"}';
    const before = sample(await scrape(app), series);
    await device.publishAsync('devices/meter-1/telemetry', '{not json', { qos: 1 });
    // The PUBACK comes after the message was read and refused.
    expect(sample(await scrape(app), series)).toBe(before + 1);
  });

  it('counts an SSE stream opened before Express as one request of its route', async () => {
    const series = 'iot_http_requests_total{method="GET",route="/api/v1/stream",status="200"}';
    const before = sample(await scrape(app), series);
    const stream = new StreamRecorder(app, app.adminToken, '?events=status');
    try {
      await stream.opened();
      const after = await scrape(app);
      expect(sample(after, series)).toBe(before + 1);
      expect(sample(after, 'iot_sse_clients')).toBeGreaterThanOrEqual(1);
    } finally {
      stream.close();
    }
  });

  it('observes storage batch sizes and commit times once per batch', async () => {
    const before = await scrape(app);
    const stream = new StreamRecorder(app, app.adminToken, '?events=telemetry&devices=meter-1');
    try {
      await stream.opened();
      for (let i = 0; i < 5; i++)
        await device.publishAsync('devices/meter-1/telemetry', JSON.stringify({ t: i }), { qos: 1 });
      // Published only once stored.
      await stream.waitFor((events) => events.length >= 5);
    } finally {
      stream.close();
    }
    const after = await scrape(app);
    const batches = sample(after, 'iot_storage_batch_events_count') - sample(before, 'iot_storage_batch_events_count');
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThanOrEqual(5);
    expect(sample(after, 'iot_storage_batch_events_sum') - sample(before, 'iot_storage_batch_events_sum')).toBe(5);
    expect(sample(after, 'iot_storage_commit_seconds_count') - sample(before, 'iot_storage_commit_seconds_count')).toBe(
      batches,
    );
    expect(sample(after, 'iot_storage_commit_seconds_sum')).toBeGreaterThan(0);
  });

  it('exports event-loop delay percentiles', async () => {
    const text = await scrape(app);
    for (const name of [
      'nodejs_eventloop_lag_p50_seconds',
      'nodejs_eventloop_lag_p90_seconds',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(text).toMatch(new RegExp(`^${name} \\d`, 'm'));
    }
  });

  it('reads in docs/grafana-dashboard.json only metrics the api exports', async () => {
    const dashboard = JSON.parse(readFileSync(join(__dirname, '../../../docs/grafana-dashboard.json'), 'utf8')) as {
      panels: Panel[];
      templating: { list: Array<{ name: string; type: string; query: string }> };
    };
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    const exported = exportedNames(await scrape(app));
    const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
    const used = new Set<string>();
    for (const panel of panels) {
      expect({ panel: panel.title, uid: panel.datasource?.uid }).toEqual({ panel: panel.title, uid: '${datasource}' });
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        const names = metricNamesIn(target.expr ?? '');
        expect(names.length).toBeGreaterThan(0);
        for (const name of names) {
          expect({ panel: panel.title, name, exported: exported.has(name) }).toEqual({
            panel: panel.title,
            name,
            exported: true,
          });
          used.add(name);
        }
      }
    }
    // The panels the dashboard is for.
    for (const name of [
      'iot_messages_received_total',
      'iot_messages_rejected_total',
      'iot_events_stored_total',
      'iot_sse_clients',
      'iot_ws_clients',
      'iot_mqtt_to_sse_seconds_bucket',
      'iot_http_requests_total',
      'iot_http_request_duration_seconds_bucket',
      'nodejs_eventloop_lag_p99_seconds',
      'iot_storage_batch_events_bucket',
      'iot_storage_commit_seconds_bucket',
    ]) {
      expect(used).toContain(name);
    }
  });

  it('finds the metric names of a PromQL expression', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.95, sum by (le, route) (rate(iot_http_request_duration_seconds_bucket{route!="unmatched"}[$__rate_interval])))',
      ),
    ).toEqual(['iot_http_request_duration_seconds_bucket']);
    expect(metricNamesIn('rate(a_sum[5m]) / rate(a_count[5m]) or on (x) nope_total')).toEqual([
      'a_sum',
      'a_count',
      'nope_total',
    ]);
  });
});
