import { Histogram, Registry } from 'prom-client';
import { HotHistogram, MetricsService } from './metrics.service';

describe('HotHistogram', () => {
  it("prints exactly what prom-client's Histogram prints for the same observations", async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const theirs = new Registry();
    const reference = new Histogram({ name: 'latency_seconds', help: 'h', buckets, registers: [theirs] });
    const ours = new Registry();
    const hot = new HotHistogram('latency_seconds', 'h', buckets);
    ours.registerMetric(hot as never);
    const empty = await theirs.metrics();
    expect(await ours.metrics()).toBe(empty);
    // On, between and beyond the bounds, and zero.
    for (const value of [0, 0.0005, 0.001, 0.002, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 30]) {
      reference.observe(value);
      hot.observe(value);
    }
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('latency_seconds_bucket{le="0.01"} 5');
    expect(text).toContain('latency_seconds_bucket{le="+Inf"} 11');

    hot.reset();
    expect(await ours.metrics()).toBe(empty);
  });
});

describe('MetricsService', () => {
  it('adds the messages counted since the last read to iot_messages_received_total, once', async () => {
    const metrics = new MetricsService();
    const read = async () => {
      const text = await metrics.registry.metrics();
      return text.split('\n').filter((line) => line.startsWith('iot_messages_received_total{'));
    };
    for (let i = 0; i < 3; i++) metrics.received('telemetry');
    metrics.received('status');
    expect(await read()).toEqual([
      'iot_messages_received_total{kind="telemetry"} 3',
      'iot_messages_received_total{kind="status"} 1',
    ]);
    metrics.received('telemetry');
    expect(await read()).toEqual([
      'iot_messages_received_total{kind="telemetry"} 4',
      'iot_messages_received_total{kind="status"} 1',
    ]);
  });
});
