import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatFormField, MatHint, MatLabel } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { commandNameSchema, type JsonObject } from '@iot/protocol';
import { ControlService } from '../core/control/control.service';
import { TimestampPipe } from '../ui/format.pipes';
import { CommandStatusChip } from './command-status-chip';
import { CommandsStore } from './commands.store';
import { parseJsonObject } from './state-doc';

/** Send a command to the device and follow it live; for operators and admins. */
@Component({
  selector: 'iot-command-panel',
  imports: [MatFormField, MatLabel, MatInput, MatHint, MatButton, CommandStatusChip, TimestampPipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  templateUrl: './command-panel.html',
  styleUrl: './device-cards.scss',
})
export class CommandPanel {
  private readonly store = inject(CommandsStore);
  protected readonly control = inject(ControlService);

  protected readonly name = signal('');
  protected readonly paramsText = signal('');
  protected readonly timeoutText = signal('');
  protected readonly touched = signal(false);
  protected readonly sending = signal(false);
  protected readonly cancelling = signal(false);
  protected readonly sendError = signal<string | null>(null);
  protected readonly activeId = signal<string | null>(null);

  protected readonly nameError = computed(() => {
    const result = commandNameSchema.safeParse(this.name().trim());
    return result.success ? null : (result.error.issues[0]?.message ?? 'Invalid command name.');
  });
  protected readonly params = computed<{ value?: JsonObject; error?: string }>(() => {
    const text = this.paramsText().trim();
    if (!text) return {};
    const parsed = parseJsonObject(text);
    return 'error' in parsed ? { error: parsed.error } : { value: parsed.value };
  });
  protected readonly timeout = computed<{ value?: number; error?: string }>(() => {
    const text = this.timeoutText().trim();
    if (!text) return {};
    const seconds = Number(text);
    if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 86_400) return { error: 'From 0.1 to 86400 seconds.' };
    return { value: Math.round(seconds * 1000) };
  });
  protected readonly valid = computed(() => !this.nameError() && !this.params().error && !this.timeout().error);
  protected readonly active = computed(() => {
    const id = this.activeId();
    return id ? (this.store.command(id) ?? null) : null;
  });
  protected readonly canCancel = computed(() => this.active()?.status === 'pending');

  constructor() {
    this.control.connect();
  }

  protected input(target: 'name' | 'paramsText' | 'timeoutText', event: Event): void {
    this[target].set((event.target as HTMLInputElement | HTMLTextAreaElement).value);
  }

  protected async submit(event: Event): Promise<void> {
    event.preventDefault();
    this.touched.set(true);
    if (!this.valid() || this.sending()) return;
    this.sending.set(true);
    this.sendError.set(null);
    try {
      const id = await this.store.send(this.name().trim(), this.params().value, this.timeout().value);
      this.activeId.set(id);
    } catch (error) {
      this.sendError.set(error instanceof Error ? error.message : 'The command could not be sent.');
    } finally {
      this.sending.set(false);
    }
  }

  protected async cancel(): Promise<void> {
    const id = this.activeId();
    if (!id || this.cancelling()) return;
    this.cancelling.set(true);
    this.sendError.set(null);
    try {
      await this.store.cancel(id);
    } catch (error) {
      this.sendError.set(error instanceof Error ? `Could not cancel: ${error.message}` : 'Could not cancel.');
    } finally {
      this.cancelling.set(false);
    }
  }
}
