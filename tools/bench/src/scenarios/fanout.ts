import { monitorEventLoopDelay } from 'node:perf_hooks';
import { histogramQuantileMs, metricSum, sleep } from '../lib/api-process';
import type { BenchOptions } from '../lib/args';
import { CpuMeter, readMemory } from '../lib/proc';
import { PublisherPool } from '../lib/publisher';
import { type ScenarioResult, quantile, round } from '../lib/report';
import { LatencyReader, type RawStream, Samples, openRawStream } from '../lib/sse';
import { log, withApi } from './common';

const QUIET_MS = 3_000;

/**
 * Fan-out latency: the devices publish `rate` messages/s in total, paced
 * evenly, each carrying its send time; every SSE client records
 * receive − send for every telemetry frame. With replicas the devices
 * publish to the Mosquitto in front of them and the clients connect
 * through nginx, which spreads them over the replicas.
 */
export function fanout(options: BenchOptions): Promise<ScenarioResult> {
  const durationS = options.duration ?? (options.smoke ? 2 : 15);
  const clients = options.clients ?? (options.smoke ? 5 : 50);
  const workers = options.workers ?? 1;
  const targetRate = options.rate ?? (options.smoke ? 200 : 2_000);
  const warmupS = options.warmup ?? (options.smoke ? 0 : 3);
  return withApi('fanout', options, async (run) => {
    const { api, apis, streamUrl, mqttUrl, services, metrics, mark, databasePids } = run;
    const devices = await api.createDevices(options.devices ?? (options.smoke ? 5 : 100));
    log(`fanout: ${devices.length} devices registered; connecting ${workers} publisher process(es)`);
    const pool = await PublisherPool.start(mqttUrl, devices, workers, (_w, n) => ({
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
            baseUrl: streamUrl,
            token: api.token,
            query: 'events=telemetry',
            onData: reader.onData,
            decodeChunks: apis.length > 1,
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
      const before = await metrics();
      const beforeEach = await Promise.all(apis.map((a) => a.metrics()));
      const cpu = new CpuMeter(
        apis.map((a) => a.pid),
        () => pool.pids,
        undefined,
        databasePids,
        services,
      );
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
      const after = await metrics();
      const afterEach = await Promise.all(apis.map((a) => a.metrics()));
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
      if (apis.length > 1)
        notes.push(
          "api mqtt→sse covers each replica's own messages to its own streams; the other replica's reach a stream after a read of the log",
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
          ...(apis.length > 1 && { apiReplicas: apis.length, broker: 'Mosquitto', proxy: 'nginx' }),
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
          ...memoryRows(
            apis.map((a) => a.pid),
            services,
          ),
          ...(apis.length > 1 && {
            // How nginx's least_conn spread the streams, and how the broker's shared subscription spread the messages.
            'SSE streams per replica': afterEach.map((m) => metricSum(m, 'iot_sse_clients')).join(' / '),
            'messages taken per replica': afterEach
              .map(
                (m, i) =>
                  metricSum(m, 'iot_messages_received_total') - metricSum(beforeEach[i], 'iot_messages_received_total'),
              )
              .join(' / '),
          }),
          ...eventLogRows(afterEach, beforeEach),
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

/** RSS now of the api (or each replica and their sum) and of the broker and proxy, MiB. */
function memoryRows(apiPids: number[], services: Array<{ name: string; pids(): number[] }>): Record<string, number> {
  const mib = (pids: number[]) => round(pids.reduce((a, pid) => a + readMemory(pid).rssKiB, 0) / 1024, 1);
  const rows: Record<string, number> = {};
  rows[apiPids.length > 1 ? `api RSS, ${apiPids.length} replicas (MiB)` : 'api RSS (MiB)'] = mib(apiPids);
  if (apiPids.length > 1) apiPids.forEach((pid, i) => (rows[`api replica ${i + 1} RSS (MiB)`] = mib([pid])));
  for (const service of services) rows[`${service.name} RSS, all processes (MiB)`] = mib(service.pids());
  return rows;
}

/** Each api's event-log batches over the measured run, "replica 1 / replica 2 / …". */
function eventLogRows(after: Map<string, number>[], before: Map<string, number>[]): Record<string, string> {
  const each = (f: (delta: (name: string) => number, i: number) => number | string | null) =>
    after.map((m, i) => f((name) => metricSum(m, name) - metricSum(before[i], name), i) ?? '-').join(' / ');
  return {
    'batches committed (each api)': each((delta) => delta('iot_storage_batch_events_count')),
    'events a batch, mean (each api)': each((delta) =>
      round(delta('iot_storage_batch_events_sum') / delta('iot_storage_batch_events_count'), 1),
    ),
    'commit ms a batch, mean (each api)': each((delta) =>
      round((delta('iot_storage_commit_seconds_sum') / delta('iot_storage_batch_events_count')) * 1000),
    ),
    'commit p99 ms, ≤ bucket (each api)': each((_, i) =>
      histogramQuantileMs(after[i], 'iot_storage_commit_seconds', 0.99, before[i]),
    ),
  };
}
