import { ChangeDetectionStrategy, Component, computed, inject, linkedSignal, signal } from '@angular/core';
import { FormGroup } from '@angular/forms';
import { MatButton } from '@angular/material/button';
import { MatOption } from '@angular/material/core';
import { MatFormField, MatHint, MatLabel } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { MatProgressBar } from '@angular/material/progress-bar';
import { MatSelect } from '@angular/material/select';
import { commandNameSchema, isJsonObject, type JsonObject } from '@iot/protocol';
import { type FormlyFieldConfig, FormlyForm } from '@ngx-formly/core';
import { FormlyJsonschema } from '@ngx-formly/core/json-schema';
import { ControlService } from '../core/control/control.service';
import { TimestampPipe } from '../ui/format.pipes';
import { CommandStatusChip } from './command-status-chip';
import { CommandsStore } from './commands.store';
import { DeviceModelStore, type ModelCommand } from './device-model.store';
import { formFromSchema, toJson } from './model-form';
import { parseJsonObject } from './state-doc';

/** The generated form of one command: fresh per pick, so defaults are filled again. */
interface CommandForm {
  command: ModelCommand;
  group: FormGroup;
  value: Record<string, unknown>;
  fields: FormlyFieldConfig[];
}

/**
 * Send a command to the device and follow it live; for operators and admins.
 * A device with a model gets a picker of its commands and a form generated
 * from each one's params schema; one without, a name and raw JSON params.
 */
@Component({
  selector: 'iot-command-panel',
  imports: [
    MatFormField,
    MatLabel,
    MatInput,
    MatHint,
    MatButton,
    MatSelect,
    MatOption,
    MatProgressBar,
    FormlyForm,
    CommandStatusChip,
    TimestampPipe,
  ],
  changeDetection: ChangeDetectionStrategy.OnPush,
  templateUrl: './command-panel.html',
  styleUrl: './device-cards.scss',
})
export class CommandPanel {
  private readonly store = inject(CommandsStore);
  protected readonly control = inject(ControlService);
  protected readonly model = inject(DeviceModelStore);
  private readonly jsonSchema = inject(FormlyJsonschema);

  /** With a model, its commands are the only ones the api takes; raw JSON only without one. */
  protected readonly mode = computed<'loading' | 'model' | 'raw'>(() =>
    !this.model.loaded() ? 'loading' : this.model.model() ? 'model' : 'raw',
  );
  /** The first command until the operator picks another. */
  protected readonly picked = linkedSignal<string | null>(() => this.model.commands()[0]?.name ?? null);
  protected readonly commandForm = computed<CommandForm | null>(() => {
    const name = this.picked();
    const command = this.model.commands().find((c) => c.name === name);
    if (!command) return null;
    const params = command.spec.params;
    return {
      command,
      group: new FormGroup({}),
      value: {},
      fields: params ? [formFromSchema(this.jsonSchema, params)] : [],
    };
  });

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
  protected readonly defaultTimeout = computed(() => {
    const ms = this.commandForm()?.command.spec.timeoutMs;
    return ms === undefined ? '30 s' : `${ms / 1000} s`;
  });
  protected readonly progress = computed(() => {
    const command = this.active();
    return command?.status === 'in-progress' && command.progress !== undefined ? command.progress : null;
  });

  constructor() {
    this.control.connect();
  }

  protected input(target: 'name' | 'paramsText' | 'timeoutText', event: Event): void {
    this[target].set((event.target as HTMLInputElement | HTMLTextAreaElement).value);
  }

  protected pick(name: string): void {
    this.picked.set(name);
    this.sendError.set(null);
  }

  protected async submit(event: Event): Promise<void> {
    event.preventDefault();
    this.touched.set(true);
    if (this.sending()) return;
    let name: string;
    let params: JsonObject | undefined;
    if (this.mode() === 'model') {
      const form = this.commandForm();
      if (!form || form.group.invalid || this.timeout().error) {
        form?.group.markAllAsTouched();
        return;
      }
      const value = toJson(form.value);
      name = form.command.name;
      params = isJsonObject(value) && Object.keys(value).length > 0 ? value : undefined;
    } else {
      if (!this.valid()) return;
      name = this.name().trim();
      params = this.params().value;
    }
    this.sending.set(true);
    this.sendError.set(null);
    try {
      const id = await this.store.send(name, params, this.timeout().value);
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
