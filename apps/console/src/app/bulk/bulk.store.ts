import { computed, DestroyRef, inject, Injectable, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import {
  type BulkCommandView,
  COMMAND_STATUS_RANK,
  type CommandEvent,
  type CommandStatus,
  TERMINAL_COMMAND_STATUSES,
} from '@iot/protocol';
import type { Subscription } from 'rxjs';
import { BulkApi } from '../core/bulk/bulk-api';
import { describeHttpError } from '../core/http-error';
import { StreamService } from '../core/stream/stream.service';

/** One device of a bulk as shown: its status (null: refused, no command) and why, when it did not succeed. */
export interface BulkRow {
  deviceId: string;
  commandId: string | null;
  status: CommandStatus | null;
  /** The refusal, or the device's error for a failed command. */
  detail: string | null;
  /** A desired-state patch: the device's desired version after it. */
  version: number | null;
}

export interface BulkProgress {
  total: number;
  succeeded: number;
  /** Refused, failed, timed out, expired or cancelled. */
  failed: number;
  /** Not yet at a terminal status. */
  pending: number;
}

/** Command events kept while the bulk loads, at most (the rest come with the load itself). */
const MAX_HELD_EVENTS = 10_000;

/** The later of two statuses of one command: an event older than what is shown changes nothing. */
function later(current: CommandStatus | null, next: CommandStatus): CommandStatus {
  return current === null || COMMAND_STATUS_RANK[next] > COMMAND_STATUS_RANK[current] ? next : current;
}

/**
 * One bulk, loaded over REST and kept current by the stream's `command`
 * events for its commands. Events that arrive while it loads are held and
 * applied on top; a `reset` (events were missed) loads it again.
 * Provided by the bulk page.
 */
@Injectable()
export class BulkStore {
  private readonly api = inject(BulkApi);
  private readonly rowsById = signal<ReadonlyMap<string, BulkRow>>(new Map());
  private readonly viewState = signal<BulkCommandView | null>(null);
  private readonly loadingState = signal(false);
  private readonly errorState = signal<string | null>(null);
  private bulkId: string | null = null;
  private load: Subscription | undefined;
  /** Statuses seen on the stream while a load is in flight, by command id. */
  private held: Map<string, CommandEvent> | null = null;
  /** Command id → device id, for the events of this bulk's commands. */
  private byCommand = new Map<string, string>();

  readonly view = this.viewState.asReadonly();
  readonly loading = this.loadingState.asReadonly();
  readonly error = this.errorState.asReadonly();
  /** Each device, in the bulk's order. */
  readonly rows = computed(() => [...this.rowsById().values()]);
  readonly progress = computed<BulkProgress>(() => {
    const progress = { total: 0, succeeded: 0, failed: 0, pending: 0 };
    for (const row of this.rowsById().values()) {
      progress.total++;
      if (row.status === 'succeeded') progress.succeeded++;
      else if (row.status === null || TERMINAL_COMMAND_STATUSES.has(row.status)) progress.failed++;
      else progress.pending++;
    }
    return progress;
  });
  readonly done = computed(() => this.viewState() !== null && this.progress().pending === 0);

  constructor() {
    inject(StreamService)
      .messages.pipe(takeUntilDestroyed())
      .subscribe((message) => {
        if (message.event === 'command') this.onCommand(message.data);
        else if (message.event === 'reset' && this.bulkId) this.open(this.bulkId);
      });
    inject(DestroyRef).onDestroy(() => this.load?.unsubscribe());
  }

  /** Loads a bulk (again), holding live events until it is in. */
  open(bulkId: string): void {
    this.load?.unsubscribe();
    if (bulkId !== this.bulkId) {
      this.viewState.set(null);
      this.rowsById.set(new Map());
      this.byCommand = new Map();
    }
    this.bulkId = bulkId;
    this.held ??= new Map();
    this.loadingState.set(true);
    this.load = this.api.get(bulkId).subscribe({
      next: (view) => this.applyView(view),
      error: (error: unknown) => {
        this.held = null;
        this.loadingState.set(false);
        this.errorState.set(describeHttpError(error));
      },
    });
  }

  private applyView(view: BulkCommandView): void {
    const previous = this.rowsById();
    const rows = new Map<string, BulkRow>();
    this.byCommand = new Map();
    for (const item of view.items) {
      const shown = previous.get(item.deviceId);
      // What the stream already said may be newer than the answer.
      const status = shown?.status && item.status ? later(item.status, shown.status) : item.status;
      rows.set(item.deviceId, {
        deviceId: item.deviceId,
        commandId: item.commandId,
        status,
        detail: item.error ?? (shown?.commandId === item.commandId ? shown.detail : null),
        version: item.version ?? null,
      });
      if (item.commandId !== null) this.byCommand.set(item.commandId, item.deviceId);
    }
    this.viewState.set(view);
    this.rowsById.set(rows);
    this.loadingState.set(false);
    this.errorState.set(null);
    this.load = undefined;
    const held = this.held;
    this.held = null;
    for (const event of held?.values() ?? []) this.onCommand(event);
  }

  private onCommand(event: CommandEvent): void {
    if (this.held) {
      const before = this.held.get(event.commandId);
      if (before ? COMMAND_STATUS_RANK[event.status] >= COMMAND_STATUS_RANK[before.status] : this.held.size < MAX_HELD_EVENTS) {
        this.held.set(event.commandId, event);
      }
      return;
    }
    const deviceId = this.byCommand.get(event.commandId);
    const row = deviceId === undefined ? undefined : this.rowsById().get(deviceId);
    if (!row) return;
    const status = later(row.status, event.status);
    if (status === row.status) return;
    const next = new Map(this.rowsById());
    next.set(row.deviceId, { ...row, status, detail: event.error ?? row.detail });
    this.rowsById.set(next);
  }
}
