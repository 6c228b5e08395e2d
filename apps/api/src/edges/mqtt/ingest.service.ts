import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  type CommandResult,
  type JsonObject,
  commandResultSchema,
  deviceStatusSchema,
  parseTelemetry,
  reportedStatePatchSchema,
  topics,
} from '@iot/protocol';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { DeviceTransport, type DeviceMessage, type TransportHandlers } from '../../core/device-transport';
import { CommandsService } from '../../core/commands/commands.service';
import { RateLimitedLog } from '../../platform/logging/rate-limited-log';
import { MetricsService } from '../../platform/metrics/metrics.service';
import { StateService } from '../../core/state/state.service';
import { ModelsService } from '../../core/models/models.service';
import { telemetryEvent } from '../../domain/events';
import { DevicesService } from '../../core/devices/devices.service';
import { TelemetryHistory } from '../../core/telemetry/telemetry-history.service';
import { EventLog } from '../../core/events/event-log.service';
import { PresenceService } from '../../core/events/presence.service';
import { DomainError, type DomainErrorCode, unmappedCode } from '../../domain/errors';

/** A device's message as parsed, or why it is refused: the error notice's reason and text. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string; error: string };

/** The messages whose handling the core may refuse. */
export type RefusableKind = 'command.result' | 'state.reported' | 'model';

function parseJson(payload: Buffer): Parsed<unknown> {
  try {
    return { ok: true, value: JSON.parse(payload.toString('utf8')) };
  } catch {
    return { ok: false, reason: 'invalid_json', error: 'payload is not valid JSON' };
  }
}

/** `devices/{id}/commands/{commandId}/result`. */
export function parseCommandResult(payload: Buffer): Parsed<CommandResult> {
  const json = parseJson(payload);
  if (!json.ok) return json;
  const parsed = commandResultSchema.safeParse(json.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: 'invalid_command_result', error: `${issue.path.join('.') || 'result'}: ${issue.message}` };
  }
  return { ok: true, value: parsed.data };
}

/** `devices/{id}/state/reported`: a JSON object; how deep it nests and its keys are the state service's to check. */
export function parseReportedState(payload: Buffer): Parsed<JsonObject> {
  const json = parseJson(payload);
  if (!json.ok) return json;
  if (!reportedStatePatchSchema.safeParse(json.value).success) {
    return { ok: false, reason: 'invalid_state', error: 'reported state must be a JSON object (a merge patch)' };
  }
  // The payload as parsed, not the schema's copy: that would leave out a `__proto__` key the state service refuses.
  return { ok: true, value: json.value as JsonObject };
}

/**
 * The error notice's reason for a device's message the core refused;
 * undefined for a refusal that is not about the message (it is not
 * acknowledged, so the device sends it again).
 */
export function noticeReason(kind: RefusableKind, code: DomainErrorCode): string | undefined {
  if (kind === 'model') {
    // A model refused is refused for good: the device hears why, and the message is acknowledged.
    if (code === 'bad_request' || code === 'too_large') return 'invalid_model';
    if (code === 'conflict') return 'model_conflict';
    if (code === 'not_found') return 'unknown_device';
    return undefined;
  }
  switch (code) {
    case 'not_found':
      return kind === 'command.result' ? 'unknown_command' : 'unknown_device';
    case 'bad_request':
      return kind === 'command.result' ? 'invalid_command_result' : 'invalid_state';
    case 'too_large':
      return kind === 'command.result' ? 'payload_too_large' : 'state_too_large';
    case 'conflict':
    case 'precondition_failed':
    case 'unavailable':
      return undefined;
    default:
      return unmappedCode(code);
  }
}

/**
 * The bridge's way in: every device message lands here, is parsed once with
 * the protocol schemas, and becomes events in the log. A bad message is
 * refused whole, counted, and explained to the device on its errors topic.
 */
@Injectable()
export class IngestService implements TransportHandlers, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(IngestService.name);
  /** Refused device messages, at warn, bounded per device and reason so a misbehaving fleet cannot fill the disk. */
  private readonly refusals = new RateLimitedLog('refused device messages', (fields, message) =>
    this.logger.warn(fields, message),
  );

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly transport: DeviceTransport,
    private readonly devices: DevicesService,
    private readonly telemetryHistory: TelemetryHistory,
    private readonly log: EventLog,
    private readonly presence: PresenceService,
    private readonly metrics: MetricsService,
    private readonly commands: CommandsService,
    private readonly state: StateService,
    private readonly models: ModelsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Nobody is connected before the broker starts: forget presence left by a crash.
    await this.devices.boot();
    await this.transport.start(this);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transport.stop();
    this.refusals.close();
  }

  onMessage(message: DeviceMessage, stored?: (error?: Error) => void): void {
    const { deviceId, topic } = message;
    if (!this.presence.has(deviceId)) {
      // Only through an external broker: a client it lets in that is not registered, or (with replicas)
      // a device registered through another replica a moment ago.
      this.presence.known(deviceId).then(
        (known) => {
          if (known) return this.onMessage(message, stored);
          this.onRejected(deviceId, message.rawTopic, 'unknown_device', `device ${deviceId} is not registered`);
          stored?.();
        },
        (error: unknown) => stored?.(error instanceof Error ? error : new Error(String(error))),
      );
      return;
    }
    switch (topic.kind) {
      case 'telemetry':
        this.telemetry(message);
        break;
      case 'status':
        this.status(message);
        break;
      case 'state.reported': {
        this.metrics.received(topic.kind);
        const patch = parseReportedState(message.payload);
        if (!patch.ok) {
          this.onRejected(deviceId, message.rawTopic, patch.reason, patch.error);
          break;
        }
        this.settle(message, topic.kind, this.state.applyReported(deviceId, patch.value, message.receivedAt), stored);
        return;
      }
      case 'command.result': {
        this.metrics.received(topic.kind);
        const result = parseCommandResult(message.payload);
        if (!result.ok) {
          this.onRejected(deviceId, message.rawTopic, result.reason, result.error);
          break;
        }
        this.settle(message, topic.kind, this.commands.onResult(deviceId, topic.commandId ?? '', result.value), stored);
        return;
      }
      case 'model': {
        this.metrics.received(topic.kind);
        const model = parseJson(message.payload);
        if (!model.ok) {
          this.onRejected(deviceId, message.rawTopic, model.reason, model.error);
          break;
        }
        this.settle(message, topic.kind, this.models.announce(deviceId, model.value, message.receivedAt), stored);
        return;
      }
      case 'state.desired':
      case 'command':
      case 'errors':
        // The platform's own publishes, echoed by an external broker.
        break;
    }
    // Whatever this message appended (or nothing, if it was refused) is behind this mark.
    if (stored) this.log.afterCommit(stored);
  }

  private telemetry(message: DeviceMessage): void {
    this.metrics.received('telemetry');
    const parsed = parseTelemetry(message.payload, {
      now: message.receivedAt,
      maxPayloadBytes: this.config.maxPayloadBytes,
      maxBatchEntries: this.config.maxBatchEntries,
    });
    if (!parsed.ok) {
      this.onRejected(message.deviceId, message.rawTopic, parsed.reason, parsed.error);
      return;
    }
    const { deviceId, receivedAt } = message;
    if (!this.log.hasRoom(parsed.entries.length)) {
      this.onRejected(deviceId, message.rawTopic, 'overloaded', 'the platform is overloaded; retry later');
      return;
    }
    // Last check, as it takes the message's new keys in: a device's key list bounds its history reads.
    const max = this.config.maxKeysPerDevice;
    const known = this.telemetryHistory.admitKeys(deviceId, parsed.entries, max);
    if (known !== undefined) {
      const error = `too many telemetry keys: the device has ${known} and may have at most ${max}; this message adds more`;
      this.onRejected(deviceId, message.rawTopic, 'too_many_keys', error);
      return;
    }
    // A device that speaks is online, even if its session event has not been seen yet.
    if (this.transport.kind === 'embedded') this.presence.set(deviceId, true, receivedAt);
    for (const { ts, values, valuesJson } of parsed.entries) {
      // Values that do not fit the device's model are stored all the same, flagged and counted.
      const misfits = this.models.telemetryMisfits(deviceId, values, ts);
      this.log.append(telemetryEvent(deviceId, ts, values, valuesJson, misfits), receivedAt);
    }
  }

  private status(message: DeviceMessage): void {
    this.metrics.received('status');
    const status = deviceStatusSchema.safeParse(message.payload.toString('utf8').trim());
    if (!status.success) {
      this.onRejected(message.deviceId, message.rawTopic, 'invalid_status', 'status must be "online" or "offline"');
      return;
    }
    this.presence.report(message.deviceId, status.data === 'online', message.receivedAt);
    // On an external broker a device announces itself ready with `online` (published after it subscribes).
    if (status.data === 'online' && this.transport.kind === 'external') this.commands.deliverPending(message.deviceId);
  }

  /**
   * Refusals found while handling a message asynchronously become error
   * notices too. `stored` waits for the events the work appended (its rows
   * are written before it appends them).
   */
  private settle(
    message: DeviceMessage,
    kind: RefusableKind,
    work: Promise<void>,
    stored: ((error?: Error) => void) | undefined,
  ): void {
    work.then(
      () => stored && this.log.afterCommit(stored),
      (error: unknown) => {
        const reason = error instanceof DomainError ? noticeReason(kind, error.code) : undefined;
        if (error instanceof DomainError && reason !== undefined) {
          this.onRejected(message.deviceId, message.rawTopic, reason, error.message);
          stored?.();
        } else {
          this.logger.error(`handling ${message.rawTopic}: ${String(error)}`);
          // Not stored, so not acknowledged: the device sends it again on its next connection.
          stored?.(new Error('the message could not be stored'));
        }
      },
    );
  }

  onSession(deviceId: string, connected: boolean): void {
    this.presence.set(deviceId, connected, Date.now());
  }

  onCommandsSubscribed(deviceId: string): void {
    this.commands.deliverPending(deviceId);
  }

  backpressure(): Promise<void> | undefined {
    return this.log.congested ? this.log.drained() : undefined;
  }

  onRejected(deviceId: string, rawTopic: string, reason: string, error: string): void {
    this.metrics.reject(reason);
    // Refused CONNECTs are logged where they are refused, with the client's address (EmbeddedBroker).
    if (!reason.startsWith('auth_') && deviceId) {
      const topic = rawTopic.slice(0, 256);
      this.refusals.log(
        `${deviceId}\n${reason}`,
        { deviceId, topic, reason },
        `refused ${topic} from ${deviceId}: ${error}`,
      );
    }
    if (!deviceId || !this.presence.has(deviceId)) return;
    const notice = JSON.stringify({ topic: rawTopic, error, ts: Date.now() });
    this.transport.publish(topics.errors(deviceId), notice, { qos: 0 }).catch(() => undefined);
  }
}
