import { computed, DestroyRef, inject, Injectable, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import type { CommandEvent, JsonObject } from '@iot/protocol';
import { Subscription } from 'rxjs';
import { AuthService } from '../core/auth/auth.service';
import { ControlError } from '../core/control/control-socket.service';
import { ControlService } from '../core/control/control.service';
import { DeviceApi } from '../core/devices/device-api';
import { describeHttpError } from '../core/http-error';
import { StreamService } from '../core/stream/stream.service';
import { applyCommandEvent, type CommandEntry, mergeCommandView } from './command-lifecycle';

/** How many commands the history loads. */
export const COMMAND_HISTORY_LIMIT = 50;

/**
 * One device's commands: the history over REST, kept live by the stream's
 * `command` events (every operator's) and the control connection's
 * `command.status` frames (this tab's). Both carry the same transitions; each
 * is applied once. Provided by the device page.
 */
@Injectable()
export class CommandsStore {
  private readonly api = inject(DeviceApi);
  private readonly control = inject(ControlService);
  private readonly auth = inject(AuthService);

  private readonly byId = signal<ReadonlyMap<string, CommandEntry>>(new Map());
  private readonly loadingState = signal(false);
  private readonly errorState = signal<string | null>(null);
  private deviceId: string | null = null;
  private load: Subscription | undefined;
  private readonly details = new Subscription();

  readonly loading = this.loadingState.asReadonly();
  readonly error = this.errorState.asReadonly();
  /** Newest first. */
  readonly commands = computed(() => [...this.byId().values()].sort((a, b) => b.issuedAt - a.issuedAt));

  constructor() {
    const stream = inject(StreamService);
    stream
      .on('command')
      .pipe(takeUntilDestroyed())
      .subscribe((event) => this.apply(event));
    stream
      .on('reset')
      .pipe(takeUntilDestroyed())
      .subscribe(() => this.reload());
    // The control connection only reports commands this tab sent, so their sender is this user.
    this.control.commandStatus
      .pipe(takeUntilDestroyed())
      .subscribe((event) => this.apply(event, this.auth.user()?.username ?? null));
    inject(DestroyRef).onDestroy(() => {
      this.load?.unsubscribe();
      this.details.unsubscribe();
    });
  }

  /** One command by id. */
  command(commandId: string): CommandEntry | undefined {
    return this.byId().get(commandId);
  }

  /** Shows the given device's history (loading it). */
  open(deviceId: string): void {
    if (deviceId !== this.deviceId) this.byId.set(new Map());
    this.deviceId = deviceId;
    this.reload();
  }

  reload(): void {
    const deviceId = this.deviceId;
    if (!deviceId) return;
    this.load?.unsubscribe();
    this.loadingState.set(true);
    this.load = this.api.commands(deviceId, COMMAND_HISTORY_LIMIT).subscribe({
      next: (page) => {
        const next = new Map(this.byId());
        for (const command of page.items) {
          if (command.deviceId === deviceId)
            next.set(command.commandId, mergeCommandView(next.get(command.commandId), command));
        }
        this.byId.set(next);
        this.errorState.set(null);
        this.loadingState.set(false);
      },
      error: (error: unknown) => {
        this.errorState.set(describeHttpError(error));
        this.loadingState.set(false);
      },
    });
  }

  /** Sends a command to the device; resolves with its id once the platform has it. */
  async send(name: string, params: JsonObject | undefined, timeoutMs: number | undefined): Promise<string> {
    const deviceId = this.deviceId;
    if (!deviceId) throw new ControlError('bad_request', 'No device is open.');
    const reply = await this.control.send('command.send', {
      deviceId,
      name,
      ...(params ? { params } : {}),
      ...(timeoutMs ? { timeoutMs } : {}),
    });
    this.apply(reply, this.auth.user()?.username ?? null);
    return reply.commandId;
  }

  /** Cancels a pending command. */
  async cancel(commandId: string): Promise<void> {
    const reply = await this.control.send('command.cancel', { commandId });
    this.apply(reply);
  }

  /** A live event; events for other devices are ignored. */
  apply(event: CommandEvent, createdBy: string | null = null): void {
    if (event.deviceId !== this.deviceId) return;
    const current = this.byId().get(event.commandId);
    const next = applyCommandEvent(current, event, createdBy);
    if (next === current) return;
    this.put(next);
    if (!current && next.createdBy === null) this.fetchDetails(event.commandId);
  }

  private put(entry: CommandEntry): void {
    const map = new Map(this.byId());
    map.set(entry.commandId, entry);
    this.byId.set(map);
  }

  /** A command first seen on the stream (another operator's): fetch who sent it, and its parameters. */
  private fetchDetails(commandId: string): void {
    const request = this.api.command(commandId).subscribe({
      next: (command) => {
        if (command.deviceId === this.deviceId) this.put(mergeCommandView(this.byId().get(commandId), command));
      },
      error: () => undefined, // the history shows "another session" until it is reloaded
    });
    this.details.add(request);
  }
}
