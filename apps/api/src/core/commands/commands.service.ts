import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import {
  COMMAND_STATUS_RANK,
  type CommandEvent,
  type CommandMessage,
  type CommandResult,
  type CommandStatus,
  type SendCommandRequest,
  type StatusEvent,
  TERMINAL_COMMAND_STATUSES,
  topics,
} from '@iot/protocol';
import { ClusterChannel } from '../../domain/cluster';
import { DomainError } from '../../domain/errors';
import { DeviceTransport } from '../device-transport';
import { deviceEvents, type StoredEvent } from '../../domain/events';
import { EventBus } from '../events/event-bus';
import { EventLog } from '../events/event-log.service';
import { PresenceService } from '../events/presence.service';
import { MetricsService } from '../../platform/metrics/metrics.service';
import { type CommandPatch, type CommandRecord, CommandRepository, type CommandWithHistory } from '../../domain/commands';
import { ModelsService } from '../models/models.service';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_TTL_MS = 10 * 60_000;
/**
 * With replicas: how often each one looks for open commands past their
 * deadline, and how far past it a command must be before a replica other
 * than the one timing it ends it (that one's timer normally does, sooner).
 */
export const SWEEP_MS = 2_000;
export const SWEEP_GRACE_MS = 1_000;
const SWEEP_BATCH = 500;
/** Progress alone (no new timeout) is taken at most this often per command: each is a write and an event. */
export const PROGRESS_INTERVAL_MS = 1_000;
/** Longest a command may take from when it was sent, ms, however often its device extends it. */
export const MAX_COMMAND_TIMEOUT_MS = 2 ** 31 - 1;

/** A command to issue: the REST body (the WebSocket frame's data) and its device. */
export type SendCommand = SendCommandRequest & { deviceId: string };

interface OpenCommand {
  record: CommandRecord;
  timer?: NodeJS.Timeout;
  /** When progress was last taken (PROGRESS_INTERVAL_MS). */
  progressAt?: number;
  /** Transitions of one command run one after another. */
  chain: Promise<void>;
  waiters: Array<(command: CommandRecord) => void>;
}

function withoutHistory(command: CommandWithHistory): CommandRecord {
  const record: CommandRecord & { transitions?: unknown } = { ...command };
  delete record.transitions;
  return record;
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
    ...(record.progress !== undefined && record.status === 'in-progress' && { progress: record.progress }),
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
 *
 * Storage decides every transition: it is written only if the command is
 * still in the status this replica saw (`CommandRepository.update`), so when
 * replicas share the database, a result taken by one and a timeout fired by
 * another end a command once, whichever comes first, and the loser reloads
 * it. Each replica follows the others' transitions of the commands it holds
 * open through the log, and sweeps for overdue commands nobody times out
 * (their replica died).
 */
@Injectable()
export class CommandsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CommandsService.name);
  private readonly open = new Map<string, OpenCommand>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly commands: CommandRepository,
    private readonly transport: DeviceTransport,
    private readonly presence: PresenceService,
    private readonly log: EventLog,
    private readonly metrics: MetricsService,
    private readonly bus: EventBus,
    private readonly cluster: ClusterChannel,
    private readonly models: ModelsService,
  ) {
    if (cluster.shared) bus.on('committed', (events) => this.follow(events));
  }

  async onApplicationBootstrap(): Promise<void> {
    // Overdue ones end at once, without holding up the start (their timers fire on the next turn).
    for (const record of await this.commands.open()) this.rearm(this.track(record));
    if (this.open.size > 0) this.logger.log(`resumed ${this.open.size} open commands`);
    if (this.cluster.shared) {
      this.sweeper = setInterval(() => void this.sweep(), SWEEP_MS);
      this.sweeper.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
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
    if (!(await this.presence.known(request.deviceId))) throw new DomainError('not_found', `no device ${request.deviceId}`);
    // A command its device's model does not have, or with params that do not fit, never reaches the device.
    const allowed = await this.models.checkCommand(request.deviceId, request.name, request.params ?? {});
    const now = Date.now();
    const record: CommandRecord = {
      id: uuidv7(),
      deviceId: request.deviceId,
      name: request.name,
      params: request.params ?? {},
      status: 'pending',
      timeoutMs: request.timeoutMs ?? allowed.timeoutMs ?? DEFAULT_TIMEOUT_MS,
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
    const open = this.open.get(commandId) ?? (await this.adopt(commandId));
    if (!open) {
      const stored = await this.commands.get(commandId);
      if (!stored) throw new DomainError('not_found', `no command ${commandId}`);
      throw new DomainError('conflict', `command ${commandId} is ${stored.status}; only a pending command can be cancelled`);
    }
    let result: CommandRecord | undefined;
    await this.enqueue(open, async () => {
      if (open.record.status !== 'pending') return;
      if (await this.finish(open, 'cancelled', {}, by)) result = { ...open.record };
    });
    if (!result) throw new DomainError('conflict', `command ${commandId} is ${open.record.status}; only a pending command can be cancelled`);
    return result;
  }

  /** Sends every command held for a device that can now take them, oldest first. */
  deliverPending(deviceId: string): void {
    this.deliverHeldHere(deviceId);
    // Commands other replicas hold for it, too.
    if (this.cluster.shared) void this.deliverHeldElsewhere(deviceId);
  }

  private deliverHeldHere(deviceId: string): void {
    for (const open of this.open.values()) {
      if (open.record.deviceId === deviceId && open.record.status === 'pending') this.deliver(open);
    }
  }

  private async deliverHeldElsewhere(deviceId: string): Promise<void> {
    try {
      for (const record of await this.commands.pending(deviceId)) {
        if (!this.open.has(record.id)) this.deliver(this.untracked(record));
      }
    } catch (error) {
      this.logger.warn(`reading the commands held for ${deviceId} failed: ${String(error)}`);
    }
  }

  private deliver(open: OpenCommand): void {
    void this.enqueue(open, async () => {
      if (open.record.status !== 'pending') return;
      const now = Date.now();
      if (open.record.expiresAt <= now) {
        await this.finish(open, 'expired', {});
        return;
      }
      clearTimeout(open.timer);
      if (await this.transition(open, 'sent', { sentAt: now })) await this.publish(open);
    });
  }

  /**
   * A device's answer on `devices/{id}/commands/{commandId}/result`. Repeats
   * are idempotent; an answer for a terminal command is ignored and counted.
   * Throws `not_found` for a command the device does not have.
   */
  async onResult(deviceId: string, commandId: string, answer: CommandResult): Promise<void> {
    const open = this.open.get(commandId) ?? (await this.adopt(commandId));
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
      // Again when another replica moved the command first (a timeout, or an earlier answer it took).
      for (let attempt = 0; attempt < 3; attempt++) {
        const current = open.record.status;
        if (TERMINAL_COMMAND_STATUSES.has(current)) {
          this.metrics.reject('late_command_result');
          return;
        }
        if (current === 'pending' || COMMAND_STATUS_RANK[status] < COMMAND_STATUS_RANK[current]) return; // old, or not sent yet
        const progress = this.progressOf(open, answer);
        let done: boolean;
        if (COMMAND_STATUS_RANK[status] === COMMAND_STATUS_RANK[current]) {
          // A repeat: news only when it says how far along the device is, or that it needs longer.
          if (status !== current || progress === undefined) return;
          done = await this.transition(open, current, progress, undefined);
        } else {
          done = TERMINAL_COMMAND_STATUSES.has(status)
            ? await this.finish(open, status, { result, error: status === 'failed' ? (error ?? 'failed') : error })
            : await this.transition(open, status, progress ?? {});
        }
        if (done) {
          if (progress?.timeoutMs !== undefined) this.rearm(open);
          return;
        }
      }
    });
  }

  async get(commandId: string): Promise<CommandWithHistory> {
    const command = await this.commands.get(commandId);
    if (!command) throw new DomainError('not_found', `no command ${commandId}`);
    return command;
  }

  async list(deviceId: string, beforeId: string | undefined, limit: number): Promise<CommandWithHistory[]> {
    if (!(await this.presence.known(deviceId))) throw new DomainError('not_found', `no device ${deviceId}`);
    return this.commands.list(deviceId, beforeId, limit);
  }

  /** Resolves with the command once it is terminal. */
  async waitForTerminal(commandId: string): Promise<CommandRecord> {
    const open = this.open.get(commandId);
    if (!open) return this.get(commandId);
    return new Promise((resolve) => open.waiters.push(resolve));
  }

  /**
   * What an `accepted` or `in-progress` answer changes besides the status:
   * its progress (taken at most every PROGRESS_INTERVAL_MS unless the status
   * changes) and a new timeout, `timeoutMs` from now; undefined when neither.
   */
  private progressOf(open: OpenCommand, answer: CommandResult): Pick<CommandPatch, 'progress' | 'timeoutMs'> | undefined {
    if (answer.status !== 'accepted' && answer.status !== 'in-progress') return undefined;
    const now = Date.now();
    const patch: Pick<CommandPatch, 'progress' | 'timeoutMs'> = {};
    if (answer.timeoutMs !== undefined) {
      const since = open.record.sentAt ?? open.record.issuedAt;
      patch.timeoutMs = Math.min(now + answer.timeoutMs - since, MAX_COMMAND_TIMEOUT_MS);
    }
    const fresh = open.progressAt === undefined || now - open.progressAt >= PROGRESS_INTERVAL_MS;
    const moves = answer.status !== open.record.status;
    if (answer.progress !== undefined && answer.status === 'in-progress' && (fresh || moves || patch.timeoutMs !== undefined)) {
      patch.progress = answer.progress;
      open.progressAt = now;
    }
    return Object.keys(patch).length > 0 ? patch : undefined;
  }

  private track(record: CommandRecord): OpenCommand {
    const open = this.untracked(record);
    this.open.set(record.id, open);
    return open;
  }

  /** An open command of another replica's, to move here once: not kept, as that replica follows it. */
  private untracked(record: CommandRecord): OpenCommand {
    return { record, chain: Promise.resolve(), waiters: [] };
  }

  /** With replicas, a command open in storage that this one does not hold (another replica sent it). */
  private async adopt(commandId: string): Promise<OpenCommand | undefined> {
    if (!this.cluster.shared) return undefined;
    const stored = await this.commands.get(commandId);
    if (!stored || TERMINAL_COMMAND_STATUSES.has(stored.status)) return undefined;
    return this.open.get(commandId) ?? this.untracked(withoutHistory(stored));
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
        // With replicas, its device may have asked another replica for longer: the stored deadline decides.
        if (status === 'timed-out' && this.cluster.shared && (await this.extendedElsewhere(open))) return;
        await this.finish(open, status, status === 'timed-out' ? { error: 'no result before the timeout' } : {});
      });
    }, Math.max(0, delayMs));
    open.timer.unref();
  }

  /** Whether storage has the command open with a later deadline than this replica knew; if so, it is rearmed. */
  private async extendedElsewhere(open: OpenCommand): Promise<boolean> {
    const stored = await this.commands.get(open.record.id);
    if (!stored || TERMINAL_COMMAND_STATUSES.has(stored.status)) return false;
    if ((stored.sentAt ?? stored.issuedAt) + stored.timeoutMs <= Date.now()) return false;
    Object.assign(open.record, withoutHistory(stored));
    this.rearm(open);
    return true;
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

  /**
   * Moves the command from the status this replica knows to `status`; false
   * when storage had it in another (a replica moved it first): the record is
   * then reloaded, and settled here if that status is terminal.
   */
  private async transition(
    open: OpenCommand,
    status: CommandStatus,
    patch: Omit<CommandPatch, 'status'>,
    by?: string | undefined,
  ): Promise<boolean> {
    const now = Date.now();
    const from = open.record.status;
    // Progress within a status is no transition: no row in the command's history.
    const transition = status === from ? undefined : { status, ts: now, by };
    if (!(await this.commands.update(open.record.id, from, { status, ...patch }, transition, now))) {
      await this.reload(open);
      return false;
    }
    Object.assign(open.record, { status, updatedAt: now }, patch);
    this.emit(open.record, now, transition !== undefined);
    return true;
  }

  private async finish(
    open: OpenCommand,
    status: CommandStatus,
    patch: { result?: unknown; error?: string },
    by?: string,
  ): Promise<boolean> {
    if (!(await this.transition(open, status, patch, by))) return false;
    this.settle(open);
    return true;
  }

  /** The command is terminal: no timer, not held, and whoever waited for it has it. */
  private settle(open: OpenCommand): void {
    clearTimeout(open.timer);
    if (this.open.get(open.record.id) === open) this.open.delete(open.record.id);
    for (const resolve of open.waiters.splice(0)) resolve({ ...open.record });
  }

  /** Takes the command as storage has it, after another replica moved it. */
  private async reload(open: OpenCommand): Promise<void> {
    const stored = await this.commands.get(open.record.id);
    if (!stored) {
      // Its device was deleted meanwhile.
      this.settle(open);
      return;
    }
    const before = open.record.status;
    Object.assign(open.record, withoutHistory(stored));
    // Whoever waits here for a command sent from here hears of the change now; its event, when it
    // comes through the log, finds it applied.
    if (open.record.status !== before && this.open.get(open.record.id) === open) {
      this.bus.emit('command.transition', commandEvent(open.record));
    }
    this.rearm(open);
  }

  /** The timer a command needs in its current status: its expiry while held, its timeout once sent. */
  private rearm(open: OpenCommand): void {
    const { record } = open;
    if (TERMINAL_COMMAND_STATUSES.has(record.status)) this.settle(open);
    else if (record.status === 'pending') this.arm(open, record.expiresAt - Date.now(), 'expired');
    else this.arm(open, (record.sentAt ?? record.issuedAt) + record.timeoutMs - Date.now(), 'timed-out');
  }

  /**
   * With replicas: another replica's transitions of commands held open here
   * (a result it took, a command it delivered), in log order. The socket or
   * request waiting here hears of them as of its own.
   */
  private follow(events: StoredEvent[]): void {
    if (this.open.size === 0) return;
    for (const event of events) {
      // A device that came online through another replica takes the commands held for it here.
      if (event.type === 'status' && (JSON.parse(event.data) as StatusEvent).online) this.deliverHeldHere(event.deviceId);
      if (event.type !== 'command') continue;
      const update = JSON.parse(event.data) as CommandEvent;
      const open = this.open.get(update.commandId);
      if (!open) continue;
      void this.enqueue(open, () => {
        const current = open.record.status;
        // Progress another replica took: the socket or request waiting here hears of it too.
        if (update.status === current && update.progress !== undefined && update.progress !== open.record.progress) {
          open.record.progress = update.progress;
          this.bus.emit('command.transition', update);
          return Promise.resolve();
        }
        // Its own transitions come back too: already applied.
        if (update.status === current || TERMINAL_COMMAND_STATUSES.has(current)) return Promise.resolve();
        if (!TERMINAL_COMMAND_STATUSES.has(update.status) && COMMAND_STATUS_RANK[update.status] <= COMMAND_STATUS_RANK[current]) {
          return Promise.resolve();
        }
        if (current === 'pending') open.record.sentAt ??= update.ts;
        Object.assign(open.record, {
          status: update.status,
          updatedAt: update.ts,
          ...(update.result !== undefined && { result: update.result }),
          ...(update.error !== undefined && { error: update.error }),
        });
        this.bus.emit('command.transition', update);
        this.rearm(open);
        return Promise.resolve();
      });
    }
  }

  /** With replicas: ends overdue commands whose replica is gone (a live one's timer ends its own first). */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      for (const record of await this.commands.overdue(now - SWEEP_GRACE_MS, SWEEP_BATCH)) {
        if (this.open.has(record.id)) continue;
        const open = this.untracked(record);
        await this.enqueue(open, async () => {
          if (record.status === 'pending') await this.finish(open, 'expired', {});
          else await this.finish(open, 'timed-out', { error: 'no result before the timeout' });
        });
      }
    } catch (error) {
      this.logger.warn(`looking for overdue commands failed: ${String(error)}`);
    } finally {
      this.sweeping = false;
    }
  }

  private emit(record: CommandRecord, ts: number, moved = true): void {
    const update = commandEvent(record, ts);
    if (moved) this.metrics.commands.inc({ status: record.status });
    this.log.append(deviceEvents.command(update), ts);
    this.bus.emit('command.transition', update);
  }
}
