import { metricSum, sleep } from '../lib/api-process';
import { nowEpochMs } from '../lib/clock';
import type { BenchOptions } from '../lib/args';
import { CpuMeter } from '../lib/proc';
import { PublisherPool } from '../lib/publisher';
import { type ScenarioResult, round } from '../lib/report';
import { TelemetryCounter, openRawStream } from '../lib/sse';
import { log, withApi } from './common';

/** Delivery is given up when neither storage nor the stream moved for this long. */
const QUIET_MS = 10_000;
/** …or at the latest this long after the last publish. */
const DRAIN_CAP_MS = 120_000;

/**
 * Throughput: every device publishes flat telemetry (3 keys) as fast as its
 * socket takes it, QoS 0 (or 1 with --qos 1), until the total or the time cap; one SSE client
 * counts the telemetry frames. The rate is stored-and-delivered: received
 * frames over the time from the first publish to the last frame received.
 */
export function throughput(options: BenchOptions): Promise<ScenarioResult> {
  const durationS = options.duration ?? (options.smoke ? 5 : 20);
  const workers = options.workers ?? 1;
  return withApi('throughput', options, async ({ api, mark, databasePids }) => {
    const devices = await api.createDevices(options.devices ?? (options.smoke ? 5 : 100));
    log(`throughput: ${devices.length} devices registered; connecting ${workers} publisher process(es)`);
    const rate = options.rate;
    const pool = await PublisherPool.start(api.mqttUrl, devices, workers, (w, n) => {
      const messages = Math.floor(options.messages / n) + (w < options.messages % n ? 1 : 0);
      return rate === undefined
        ? { mode: 'flood', messages, durationMs: durationS * 1000, credited: options.window > 0, qos: options.qos }
        : {
            mode: 'paced',
            rate: rate / n,
            durationMs: Math.min(durationS * 1000, (messages / (rate / n)) * 1000),
            qos: options.qos,
          };
    });
    const counter = new TelemetryCounter();
    let closedAt = 0;
    const stream = await openRawStream({
      baseUrl: api.baseUrl,
      token: api.token,
      query: 'events=telemetry',
      onData: counter.onData,
      onClose: () => (closedAt = performance.now()),
    });
    try {
      await sleep(1_000); // presence events of the connects are committed and out of the way
      const before = await api.metrics();
      const rssBefore = api.memory().rssKiB;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, api.memory().rssKiB)), 200);
      const cpu = new CpuMeter(api.pid, () => pool.pids, undefined, databasePids);
      log(
        `throughput: publishing up to ${options.messages.toLocaleString('en-US')} messages for at most ${durationS} s, ` +
          (rate === undefined ? 'as fast as the sockets take them' : `paced at ${rate} msg/s`),
      );
      mark('start');
      // Closed loop: keep at most `window` messages between the publishers and the stream.
      let granted = 0;
      const grant = () => {
        if (rate !== undefined || options.window === 0 || counter.count + options.window <= granted) return;
        granted = counter.count + options.window;
        pool.credit(granted);
      };
      grant();
      const credits = setInterval(grant, 2);
      const sent = await pool.run().finally(() => clearInterval(credits));
      log(`throughput: ${sent.sent.toLocaleString('en-US')} published; waiting for the stream to catch up`);
      // Wait for storage and the stream to catch up: done when every message came back (or,
      // if the api closed the stream, when every message is stored or refused); given up when
      // neither the stored count nor the stream moved for QUIET_MS.
      const drainStart = performance.now();
      let progress = -1;
      let lastChange = performance.now();
      let settledAt = 0;
      while (performance.now() - drainStart < DRAIN_CAP_MS) {
        if (counter.count >= sent.sent) break;
        const now = await api.metrics();
        const stored = metricSum(now, 'iot_events_stored_total') - metricSum(before, 'iot_events_stored_total');
        const refused =
          metricSum(now, 'iot_messages_rejected_total') - metricSum(before, 'iot_messages_rejected_total');
        if (!settledAt && stored + refused >= sent.sent) settledAt = nowEpochMs();
        if (closedAt && settledAt) break;
        if (stored + refused + counter.count !== progress) {
          progress = stored + refused + counter.count;
          lastChange = performance.now();
        } else if (performance.now() - lastChange > QUIET_MS) break;
        await sleep(250);
      }
      // Every frame on the stream was committed first: the last one bounds the storage time.
      if (!settledAt && counter.count >= sent.sent) settledAt = counter.lastAt;
      mark('end');
      log(`throughput: done waiting (${counter.count.toLocaleString('en-US')} received)`);
      const cpuSplit = cpu.read();
      clearInterval(sampler);
      const after = await api.metrics();
      const delta = (name: string) => metricSum(after, name) - metricSum(before, name);
      const stored = delta('iot_events_stored_total');
      const rejected = delta('iot_messages_rejected_total');
      const dropped = delta('iot_sse_dropped_total');
      const batches = delta('iot_storage_batch_events_count');
      const publishSeconds = (sent.lastPublishAt - sent.firstPublishAt) / 1000;
      const deliverSeconds = (counter.lastAt - sent.firstPublishAt) / 1000;
      const lost = sent.sent - counter.count;
      const notes: string[] = [];
      if (lost !== 0) notes.push(`${lost} message(s) published but not received on the stream`);
      if (stored !== sent.sent) notes.push(`stored ${stored} events for ${sent.sent} messages`);
      if (closedAt) notes.push(`the api closed the SSE stream after ${counter.count} frames`);
      if (dropped > 0) notes.push(`the api dropped ${dropped} SSE client(s) as too slow (iot_sse_dropped_total)`);
      if (rejected > 0) notes.push(`the api refused ${rejected} message(s) (iot_messages_rejected_total)`);
      if (sent.errors.length > 0) notes.push(`publisher errors: ${sent.errors.slice(0, 3).join('; ')}`);
      if (sent.sent < options.messages)
        notes.push(`stopped by the ${durationS} s cap before ${options.messages} messages`);
      return {
        scenario: 'throughput',
        ok: lost === 0 && stored === sent.sent && rejected === 0 && dropped === 0,
        parameters: {
          devices: devices.length,
          publisherProcesses: pool.pids.length,
          messagesTarget: options.messages,
          pace:
            rate !== undefined
              ? `${rate} msg/s`
              : options.window > 0
                ? `closed loop, ≤ ${options.window} in flight`
                : 'open-loop flood',
          durationCapS: durationS,
          qos: options.qos,
          sseClients: 1,
        },
        results: {
          sent: sent.sent,
          received: counter.count,
          lost,
          'stored (iot_events_stored_total Δ)': stored,
          'refused (iot_messages_rejected_total Δ)': rejected,
          'SSE clients dropped (iot_sse_dropped_total Δ)': dropped,
          publishSeconds: round(publishSeconds),
          publishRate: Math.round(sent.sent / publishSeconds),
          deliverSeconds: round(deliverSeconds),
          'msgs/s stored+delivered': Math.round(counter.count / deliverSeconds),
          'all stored or refused after (s)': settledAt ? round((settledAt - sent.firstPublishAt) / 1000) : null,
          'msgs/s stored': settledAt ? Math.round(stored / ((settledAt - sent.firstPublishAt) / 1000)) : null,
          'last frame after last publish (ms)':
            counter.count > 0 ? Math.round(counter.lastAt - sent.lastPublishAt) : null,
          'batches committed': batches,
          'events a batch (mean)': batches > 0 ? Math.round(delta('iot_storage_batch_events_sum') / batches) : null,
          'commit ms a batch (mean)':
            batches > 0 ? round((delta('iot_storage_commit_seconds_sum') / batches) * 1000) : null,
          drainWaits: sent.drainWaits,
          creditWaits: sent.creditWaits,
          ...(options.qos === 1 && { 'PUBACKs received': sent.acked, 'waits for PUBACKs': sent.ackWaits }),
          'longest SSE stall (ms)': Math.round(counter.maxGapMs),
          sseBytes: counter.bytes,
          'api RSS before (MiB)': round(rssBefore / 1024, 1),
          'api RSS peak (MiB)': round(rssPeak / 1024, 1),
          mqttConnectMs: Math.max(...pool.connectMs),
        },
        cpu: cpuSplit,
        notes,
      };
    } finally {
      stream.close();
      pool.stop();
    }
  });
}
