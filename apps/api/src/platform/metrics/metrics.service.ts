import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, type Metric, Registry, collectDefaultMetrics } from 'prom-client';

/** The api's Prometheus metrics, one registry per app instance. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  /** Counted per message on the event loop, added to the counter when it is read (see `received`). */
  private readonly receivedSinceRead = new Map<string, number>();

  readonly messagesReceived = new Counter({
    name: 'iot_messages_received_total',
    help: 'MQTT messages received from devices, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
    collect: () => {
      for (const [kind, count] of this.receivedSinceRead) this.messagesReceived.inc({ kind }, count);
      this.receivedSinceRead.clear();
    },
  });

  readonly messagesRejected = new Counter({
    name: 'iot_messages_rejected_total',
    help: 'Device messages (MQTT) refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly telemetryMisfits = new Counter({
    name: 'iot_telemetry_misfits_total',
    help: "Telemetry values stored that do not fit their key in the device's model",
    registers: [this.registry],
  });

  readonly brokerCredentialFailures = new Counter({
    name: 'iot_broker_credential_failures_total',
    help: 'Device credential changes the external broker (dynamic security) refused or did not answer, by operation',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  readonly eventsStored = new Counter({
    name: 'iot_events_stored_total',
    help: 'Events written to the event log',
    registers: [this.registry],
  });

  readonly ingestCongested = new Counter({
    name: 'iot_ingest_congested_total',
    help: 'Times the event log queue passed its high-water mark and devices were made to wait',
    registers: [this.registry],
  });

  readonly storageErrors = new Counter({
    name: 'iot_storage_errors_total',
    help: 'Failed writes of the event log (each is retried)',
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'iot_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered, retried, failed (given up), dropped (not queued)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly sseClients = new Gauge({
    name: 'iot_sse_clients',
    help: 'Open Server-Sent Events streams',
    registers: [this.registry],
  });

  readonly sseDropped = new Counter({
    name: 'iot_sse_dropped_total',
    help: 'SSE clients disconnected for falling behind',
    registers: [this.registry],
  });

  readonly alarmsRaised = new Counter({
    name: 'iot_alarms_raised_total',
    help: 'Alarms raised by this replica, by severity',
    labelNames: ['severity'] as const,
    registers: [this.registry],
  });

  readonly alarmsOpen = new Gauge({
    name: 'iot_alarms_open',
    help: 'Alarms raised or acknowledged and not cleared, on every replica alike',
    registers: [this.registry],
  });

  readonly wsClients = new Gauge({
    name: 'iot_ws_clients',
    help: 'Open WebSocket connections',
    registers: [this.registry],
  });

  readonly commands = new Counter({
    name: 'iot_commands_total',
    help: 'Command transitions, by status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  /** HTTP requests answered, by route pattern (never the raw URL: `unmatched` when no route took it). */
  readonly httpRequests = new Counter({
    name: 'iot_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'iot_http_request_duration_seconds',
    help: 'Time from receiving an HTTP request to finishing its answer (an SSE stream: until it is open)',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly wsRefused = new Counter({
    name: 'iot_ws_refused_total',
    help: 'WebSocket upgrades, frames and sockets refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly sseRefused = new Counter({
    name: 'iot_sse_refused_total',
    help: 'Server-Sent Events streams refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** Observed once per committed batch, never per event. */
  readonly storageBatchEvents = new Histogram({
    name: 'iot_storage_batch_events',
    help: 'Events per event log batch committed',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
    registers: [this.registry],
  });

  readonly storageCommitSeconds = new Histogram({
    name: 'iot_storage_commit_seconds',
    help: 'Time one event log batch took to write and commit, in its transaction',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  /** Observed once per event delivered, so a HotHistogram. */
  readonly mqttToSse = new HotHistogram(
    'iot_mqtt_to_sse_seconds',
    'Time from receiving a device message to writing its event to SSE clients',
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  );

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // The registry reads a metric through get(), which HotHistogram answers as its Histogram does.
    this.registry.registerMetric(this.mqttToSse as unknown as Metric);
  }

  /** Counts a message received from a device: a map update, not a counter update per message. */
  received(kind: string): void {
    this.receivedSinceRead.set(kind, (this.receivedSinceRead.get(kind) ?? 0) + 1);
  }

  /** Counts a device message refused; `reason` is a short snake_case code. HTTP, WebSocket and SSE refusals have their own counters. */
  reject(reason: string): void {
    this.messagesRejected.inc({ reason });
  }

  /** Counts a WebSocket refusal (an upgrade, a frame, a socket closed); `reason` is a short snake_case code. */
  refuseWs(reason: string): void {
    this.wsRefused.inc({ reason });
  }

  /** Counts an SSE stream refused; `reason` is a short snake_case code. */
  refuseSse(reason: string): void {
    this.sseRefused.inc({ reason });
  }

  /** Counts an HTTP request answered; `route` is a route pattern or `unmatched`, never a raw URL. */
  httpRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  /** One committed event log batch: its size and how long its transaction took. */
  storageCommitted(events: number, seconds: number): void {
    this.storageBatchEvents.observe(events);
    this.storageCommitSeconds.observe(seconds);
  }
}

interface HistogramValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A histogram without labels for the per-event path: `observe` is a bucket
 * search and three additions. prom-client's Histogram builds and hashes a
 * labels object on every call, which at 60,000 events a second took 2% of the
 * event loop. The registry prints it as it prints its own histograms.
 */
export class HotHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly upperBounds: readonly number[],
  ) {
    this.counts = new Float64Array(upperBounds.length);
  }

  observe(value: number): void {
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    if (i < bounds.length) this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  /** What prom-client's registry reads: cumulative buckets, then +Inf, sum and count. */
  get(): { name: string; help: string; type: string; aggregator: string; values: HistogramValue[] } {
    let cumulative = 0;
    const values: HistogramValue[] = this.upperBounds.map((le, i) => ({
      metricName: `${this.name}_bucket`,
      labels: { le },
      value: (cumulative += this.counts[i]),
    }));
    values.push(
      { metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: this.count },
      { metricName: `${this.name}_sum`, labels: {}, value: this.sum },
      { metricName: `${this.name}_count`, labels: {}, value: this.count },
    );
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
