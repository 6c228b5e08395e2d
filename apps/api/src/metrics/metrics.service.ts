import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The api's Prometheus metrics, one registry per app instance. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly messagesReceived = new Counter({
    name: 'iot_messages_received_total',
    help: 'MQTT messages received from devices, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly messagesRejected = new Counter({
    name: 'iot_messages_rejected_total',
    help: 'Messages refused (MQTT, HTTP, WebSocket), by reason',
    labelNames: ['reason'] as const,
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

  readonly mqttToSse = new Histogram({
    name: 'iot_mqtt_to_sse_seconds',
    help: 'Time from receiving a device message to writing its event to SSE clients',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts a refusal; `reason` is a short snake_case code. */
  reject(reason: string): void {
    this.messagesRejected.inc({ reason });
  }
}
