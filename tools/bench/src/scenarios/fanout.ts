import { monitorEventLoopDelay } from 'node:perf_hooks';
import { histogramQuantileMs, metricSum, sleep } from '../lib/api-process';
import type { BenchOptions } from '../lib/args';
import { CpuMeter } from '../lib/proc';
import { PublisherPool } from '../lib/publisher';
import { type ScenarioResult, quantile, round } from '../lib/report';
import { LatencyReader, type RawStream, Samples, openRawStream } from '../lib/sse';
import { log, withApi } from './common';

const QUIET_MS = 3_000;

/**
 * Fan-out latency: the devices publish `rate` messages/s in total, paced
 * evenly, each carrying its send time; every SSE client records
 * receive − send for every telemetry frame.
 */
export function fanout(options: BenchOptions): Promise<ScenarioResult> {
  const durationS = options.duration ?? 15;
  const clients = options.clients ?? 50;
  const workers = options.workers ?? 1;
  const targetRate = options.rate ?? 2_000;
  const warmupS = options.warmup ?? 3;
  return withApi('fanout', options, async ({ api, mark, databasePids }) => {
    const devices = await api.createDevices(options.devices ?? 100);
    log(`fanout: ${devices.length} devices registered; connecting ${workers} publisher process(es)`);
    const pool = await PublisherPool.start(api.mqttUrl, devices, workers, (_w, n) => ({
      mode: 'paced',
      rate: targetRate / n,
      durationMs: durationS * 1000,
    }));
    // Every frame of the run, with room to spare: growing the array mid-run copies megabytes.
    const samples = new Samples(Math.ceil(targetRate * durationS * clients * 1.1));
    const readers: LatencyReader[] = [];
    const streams: RawStream[] = [];
    try {
      for (let i = 0; i < clients; i++) {
        const reader = new LatencyReader(samples);
        readers.push(reader);
        streams.push(
          await openRawStream({
            baseUrl: api.baseUrl,
            token: api.token,
            query: 'events=telemetry',
            onData: reader.onData,
          }),
        );
      }
      await sleep(1_000);
      const total = () => readers.reduce((a, r) => a + r.received, 0);
      /** Waits until every client has every frame of `sent`, or nothing has come for QUIET_MS. */
      const delivered = async (sent: number) => {
        let last = total();
        let lastChange = performance.now();
        while (total() < sent * clients) {
          await sleep(50);
          const now = total();
          if (now !== last) {
            last = now;
            lastChange = performance.now();
          } else if (performance.now() - lastChange > QUIET_MS) break;
        }
      };
      if (warmupS > 0) {
        // Steady state: code optimised, heap grown to the load. The warm-up's frames are not counted.
        log(`fanout: warming up for ${warmupS} s`);
        const halt = setTimeout(() => pool.halt(), warmupS * 1000);
        const warm = await pool.run();
        clearTimeout(halt);
        await delivered(warm.sent);
        for (const reader of readers) reader.received = 0;
        samples.clear();
      }
      const before = await api.metrics();
      const cpu = new CpuMeter(api.pid, () => pool.pids, undefined, databasePids);
      // The readers' own delays are part of every latency they record.
      const readerDelay = monitorEventLoopDelay({ resolution: 1 });
      readerDelay.enable();
      log(`fanout: ${targetRate} msg/s for ${durationS} s to ${clients} SSE clients`);
      mark('start');
      const sent = await pool.run();
      const expected = sent.sent * clients;
      await delivered(sent.sent);
      mark('end');
      readerDelay.disable();
      const cpuSplit = cpu.read();
      const after = await api.metrics();
      const received = total();
      const lost = expected - received;
      const sorted = samples.sorted();
      const perClientMin = Math.min(...readers.map((r) => r.received));
      const dropped = metricSum(after, 'iot_sse_dropped_total') - metricSum(before, 'iot_sse_dropped_total');
      const rejected =
        metricSum(after, 'iot_messages_rejected_total') - metricSum(before, 'iot_messages_rejected_total');
      const rate = sent.sent / ((sent.lastPublishAt - sent.firstPublishAt) / 1000);
      const notes: string[] = [];
      if (lost !== 0)
        notes.push(`${lost} frame(s) missing over all clients (fewest on one client: ${perClientMin} of ${sent.sent})`);
      if (dropped > 0) notes.push(`the api dropped ${dropped} slow SSE client(s)`);
      if (rejected > 0) notes.push(`the api refused ${rejected} message(s)`);
      if (Math.abs(rate - targetRate) / targetRate > 0.05)
        notes.push(`the publishers reached ${Math.round(rate)} msg/s, not ${targetRate}`);
      notes.push(
        'latency = SSE reader clock − publisher clock (performance.timeOrigin + now(), same machine); one receive time per socket read',
      );
      return {
        scenario: 'fanout',
        ok: lost === 0 && dropped === 0 && rejected === 0,
        parameters: {
          devices: devices.length,
          publisherProcesses: pool.pids.length,
          targetRate,
          durationS,
          warmupS,
          sseClients: clients,
        },
        results: {
          sent: sent.sent,
          publishRate: Math.round(rate),
          'frames expected': expected,
          'frames received': received,
          lost,
          'loss %': round((lost / expected) * 100, 4),
          'p50 ms': round(quantile(sorted, 0.5)),
          'p95 ms': round(quantile(sorted, 0.95)),
          'p99 ms': round(quantile(sorted, 0.99)),
          'max ms': round(quantile(sorted, 1)),
          'min ms': round(quantile(sorted, 0)),
          'api mqtt→sse p50 ms (≤ bucket)': histogramQuantileMs(after, 'iot_mqtt_to_sse_seconds', 0.5, before),
          'api mqtt→sse p99 ms (≤ bucket)': histogramQuantileMs(after, 'iot_mqtt_to_sse_seconds', 0.99, before),
          'readers event-loop delay p99 ms': round(readerDelay.percentile(99) / 1e6),
          'frames/s written by api': Math.round((received / sent.sent) * rate),
          'api RSS (MiB)': round(api.memory().rssKiB / 1024, 1),
        },
        cpu: cpuSplit,
        notes,
      };
    } finally {
      for (const s of streams) s.close();
      pool.stop();
    }
  });
}
