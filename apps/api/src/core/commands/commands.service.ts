import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import {
  COMMAND_STATUS_RANK,
  type CommandEvent,
  type CommandMessage,
  type CommandResult,
  type CommandStatus,
  type SendCommandRequest,
  TERMINAL_COMMAND_STATUSES,
  topics,
} from '@iot/protocol';
import { DomainError } from '../../domain/errors';
import { DeviceTransport } from '../device-transport';
import { deviceEvents } from '../../domain/events';
import { EventBus } from '../events/event-bus';
import { EventLog } from '../events/event-log.service';
import { PresenceService } from '../events/presence.service';
import { MetricsService } from '../../platform/metrics/metrics.service';
import { type CommandRecord, CommandRepository, type CommandWithHistory } from '../../domain/commands';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_TTL_MS = 10 * 60_000;

/** A command to issue: the REST body (the WebSocket frame's data) and its device. */
export type SendCommand = SendCommandRequest & { deviceId: string };

interface OpenCommand {
  record: CommandRecord;
  timer?: NodeJS.Timeout;
  /** Transitions of one command run one after another. */
  chain: Promise<void>;
  waiters: Array<(command: CommandRecord) => void>;
}

/** A command's transition as everyone sees it (the `command` SSE event, a `command.status` frame's data). */
export function commandEvent(record: CommandRecord, ts = record.updatedAt): CommandEvent {
  return {
    commandId: record.id,
    deviceId: record.deviceId,
    name: record.name,
    status: record.status,
    ...(record.result !== undefined && { result: record.result }),
    ...(record.error !== undefined && { error: record.error }),
    ts,
  };
}

/**
 * The command lifecycle: pending → sent → accepted / in-progress → succeeded |
 * failed | timed-out | expired | cancelled. Every transition is stored with
 * who caused it, appended to the event log (so SSE watchers and resumes see
 * it) and emitted on the bus (`command.transition`: the WebSocket gateway
 * answers the socket that sent the command). Open commands live in
 * memory with their timer; at boot they are rebuilt from storage, so a
 * restart neither loses a timeout nor runs one twice.
 */
@Injectable()
export class CommandsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CommandsService.name);
  private readonly open = new Map<string, OpenCommand>();

  constructor(
    private readonly commands: CommandRepository,
    private readonly transport: DeviceTransport,
    private readonly presence: PresenceService,
    private readonly log: EventLog,
    private readonly metrics: MetricsService,
    private readonly bus: EventBus,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const now = Date.now();
    for (const record of await this.commands.open()) {
      const open = this.track(record);
      // Overdue ones finish without holding up the start: enqueue logs a failed step, shutdown awaits the chain.
      if (record.status === 'pending') {
        if (record.expiresAt <= now) void this.enqueue(open, () => this.finish(open, 'expired', {}));
        else this.arm(open, record.expiresAt - now, 'expired');
      } else {
        const deadline = (record.sentAt ?? record.issuedAt) + record.timeoutMs;
        if (deadline <= now) void this.enqueue(open, () => this.finish(open, 'timed-out', { error: 'no result before the timeout' }));
        else this.arm(open, deadline - now, 'timed-out');
      }
    }
    if (this.open.size > 0) this.logger.log(`resumed ${this.open.size} open commands`);
  }

  async onApplicationShutdown(): Promise<void> {
    for (const open of this.open.values()) clearTimeout(open.timer);
    await Promise.all([...this.open.values()].map((o) => o.chain));
  }

  /**
   * Issues a command: sent at once to a device that can take it, else held
   * until it can or the ttl passes. `claim`, when given, gets the command's
   * id before its first transition is announced (the gateway notes which
   * socket answers for it). Rejects when the command could not be stored.
   */
  async send(request: SendCommand, by: string, claim?: (commandId: string) => void): Promise<CommandRecord> {
    if (!this.presence.has(request.deviceId)) throw new DomainError('not_found', `no device ${request.deviceId}`);
    const now = Date.now();
    const record: CommandRecord = {
      id: uuidv7(),
      deviceId: request.deviceId,
      name: request.name,
      params: request.params ?? {},
      status: 'pending',
      timeoutMs: request.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      issuedAt: now,
      expiresAt: now + (request.ttlMs ?? DEFAULT_TTL_MS),
      sentAt: null,
      updatedAt: now,
      createdBy: by,
    };
    claim?.(record.id);
    const open = this.track(record);
    const online = this.transport.acceptsCommands(record.deviceId, this.presence.isOnline(record.deviceId));
    let stored = false;
    await this.enqueue(open, async () => {
      if (online) {
        // The first status of a command to a reachable device is `sent`.
        record.status = 'sent';
        record.sentAt = now;
        await this.commands.insert(record, { status: 'sent', ts: now, by });
        stored = true;
        this.emit(record, now);
        await this.publish(open);
      } else {
        await this.commands.insert(record, { status: 'pending', ts: now, by });
        stored = true;
        this.emit(record, now);
        this.arm(open, record.expiresAt - now, 'expired');
      }
    });
    if (!stored) {
      this.open.delete(record.id);
      throw new Error(`command ${record.id} could not be stored`);
    }
    return { ...record };
  }

  /** Cancels a command still held for an offline device. */
  async cancel(commandId: string, by: string): Promise<CommandRecord> {
    const open = this.open.get(commandId);
    if (!open) {
      const stored = await this.commands.get(commandId);
      if (!stored) throw new DomainError('not_found', `no command ${commandId}`);
      throw new DomainError('conflict', `command ${commandId} is ${stored.status}; only a pending command can be cancelled`);
    }
    let result: CommandRecord | undefined;
    await this.enqueue(open, async () => {
      if (open.record.status !== 'pending') return;
      await this.finish(open, 'cancelled', {}, by);
      result = { ...open.record };
    });
    if (!result) throw new DomainError('conflict', `command ${commandId} is ${open.record.status}; only a pending command can be cancelled`);
    return result;
  }

  /** Sends every command held for a device that can now take them, oldest first. */
  deliverPending(deviceId: string): void {
    for (const open of this.open.values()) {
      if (open.record.deviceId !== deviceId || open.record.status !== 'pending') continue;
      void this.enqueue(open, async () => {
        if (open.record.status !== 'pending') return;
        const now = Date.now();
        if (open.record.expiresAt <= now) return this.finish(open, 'expired', {});
        clearTimeout(open.timer);
        await this.transition(open, 'sent', { sentAt: now });
        await this.publish(open);
      });
    }
  }

  /**
   * A device's answer on `devices/{id}/commands/{commandId}/result`. Repeats
   * are idempotent; an answer for a terminal command is ignored and counted.
   * Throws `not_found` for a command the device does not have.
   */
  async onResult(deviceId: string, commandId: string, answer: CommandResult): Promise<void> {
    const open = this.open.get(commandId);
    if (!open || open.record.deviceId !== deviceId) {
      const stored = await this.commands.get(commandId);
      if (stored && stored.deviceId === deviceId) {
        this.metrics.reject('late_command_result');
        return;
      }
      throw new DomainError('not_found', `no command ${commandId} for ${deviceId}`);
    }
    const { status, result, error } = answer;
    await this.enqueue(open, async () => {
      const current = open.record.status;
      if (TERMINAL_COMMAND_STATUSES.has(current)) {
        this.metrics.reject('late_command_result');
        return;
      }
      if (current === 'pending' || COMMAND_STATUS_RANK[status] <= COMMAND_STATUS_RANK[current]) return; // a repeat, or not sent yet
      if (TERMINAL_COMMAND_STATUSES.has(status)) {
        await this.finish(open, status, { result, error: status === 'failed' ? (error ?? 'failed') : error });
      } else {
        await this.transition(open, status, {});
      }
    });
  }

  async get(commandId: string): Promise<CommandWithHistory> {
    const command = await this.commands.get(commandId);
    if (!command) throw new DomainError('not_found', `no command ${commandId}`);
    return command;
  }

  list(deviceId: string, beforeId: string | undefined, limit: number): Promise<CommandWithHistory[]> {
    if (!this.presence.has(deviceId)) throw new DomainError('not_found', `no device ${deviceId}`);
    return this.commands.list(deviceId, beforeId, limit);
  }

  /** Resolves with the command once it is terminal. */
  async waitForTerminal(commandId: string): Promise<CommandRecord> {
    const open = this.open.get(commandId);
    if (!open) return this.get(commandId);
    return new Promise((resolve) => open.waiters.push(resolve));
  }

  private track(record: CommandRecord): OpenCommand {
    const open: OpenCommand = { record, chain: Promise.resolve(), waiters: [] };
    this.open.set(record.id, open);
    return open;
  }

  private enqueue(open: OpenCommand, step: () => Promise<void>): Promise<void> {
    const next = open.chain.then(step).catch((error: unknown) => {
      this.logger.error(`command ${open.record.id}: ${error instanceof Error ? error.message : String(error)}`);
    });
    open.chain = next;
    return next;
  }

  private arm(open: OpenCommand, delayMs: number, status: 'expired' | 'timed-out'): void {
    clearTimeout(open.timer);
    open.timer = setTimeout(() => {
      void this.enqueue(open, async () => {
        if (TERMINAL_COMMAND_STATUSES.has(open.record.status)) return;
        if (status === 'expired' && open.record.status !== 'pending') return;
        await this.finish(open, status, status === 'timed-out' ? { error: 'no result before the timeout' } : {});
      });
    }, Math.max(0, delayMs));
    open.timer.unref();
  }

  private async publish(open: OpenCommand): Promise<void> {
    const { record } = open;
    this.arm(open, record.timeoutMs, 'timed-out');
    const message: CommandMessage = {
      name: record.name,
      params: record.params,
      issuedAt: record.issuedAt,
      expiresAt: record.expiresAt,
    };
    try {
      await this.transport.publish(topics.command(record.deviceId, record.id), JSON.stringify(message), {
        qos: 1,
        responseTopic: topics.commandResult(record.deviceId, record.id),
        correlationData: Buffer.from(record.id),
      });
    } catch (error) {
      // The timeout will end it; say why in the log.
      this.logger.warn(`publishing command ${record.id} failed: ${String(error)}`);
    }
  }

  private async transition(
    open: OpenCommand,
    status: CommandStatus,
    patch: { result?: unknown; error?: string; sentAt?: number },
    by?: string,
  ): Promise<void> {
    const now = Date.now();
    Object.assign(open.record, { status, updatedAt: now }, patch);
    await this.commands.update(open.record.id, { status, ...patch }, { status, ts: now, by });
    this.emit(open.record, now);
  }

  private async finish(
    open: OpenCommand,
    status: CommandStatus,
    patch: { result?: unknown; error?: string },
    by?: string,
  ): Promise<void> {
    clearTimeout(open.timer);
    await this.transition(open, status, patch, by);
    this.open.delete(open.record.id);
    for (const resolve of open.waiters.splice(0)) resolve({ ...open.record });
  }

  private emit(record: CommandRecord, ts: number): void {
    const update = commandEvent(record, ts);
    this.metrics.commands.inc({ status: record.status });
    this.log.append(deviceEvents.command(update), ts);
    this.bus.emit('command.transition', update);
  }
}
