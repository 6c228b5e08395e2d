import { ChangeDetectionStrategy, Component, computed, DestroyRef, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { FormGroup } from '@angular/forms';
import { MAT_DIALOG_DATA, MatDialog, MatDialogContent, MatDialogRef, MatDialogTitle } from '@angular/material/dialog';
import { MatFormField, MatHint, MatLabel } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { MatProgressBar } from '@angular/material/progress-bar';
import {
  type BulkCommandView,
  type CommandSpec,
  commandNameSchema,
  type DeviceModel,
  isJsonObject,
  type JsonObject,
  type ModelRef,
} from '@iot/protocol';
import { type FormlyFieldConfig, FormlyForm } from '@ngx-formly/core';
import { FormlyJsonschema } from '@ngx-formly/core/json-schema';
import type { Observable } from 'rxjs';
import { dialogSize } from '../admin/dialog-size';
import { BulkApi, type BulkTarget } from '../core/bulk/bulk-api';
import { DeviceApi } from '../core/devices/device-api';
import { describeHttpError } from '../core/http-error';
import { desiredSchema, formFromSchema, provideModelForms, toJson } from '../device/model-form';
import { parseJsonObject } from '../device/state-doc';
import { DialogActions } from '../ui/dialog-actions';
import { FormProblems } from '../ui/form-problems';
import { dialogRequest } from '../ui/dialog-request';

export interface BulkActionData {
  kind: 'command' | 'desired';
  target: BulkTarget;
  /** How the target reads: "3 selected devices", "every device labelled site=a". */
  description: string;
  /** The model every targeted device has, when they share one: its forms are used, else raw JSON. */
  model: ModelRef | null;
}

/** A generated form: fresh per pick, so defaults are filled again. */
interface SchemaForm {
  group: FormGroup;
  value: Record<string, unknown>;
  fields: FormlyFieldConfig[];
}

/**
 * A bulk command or desired-state patch: the model's command picker and
 * generated forms when every device shares a model, else a name and raw
 * JSON. Closes with the bulk the api made (each device's outcome in it).
 */
@Component({
  selector: 'iot-bulk-action-dialog',
  imports: [
    MatDialogTitle,
    MatDialogContent,
    MatFormField,
    MatLabel,
    MatHint,
    MatInput,
    MatProgressBar,
    FormlyForm,
    DialogActions,
    FormProblems,
  ],
  providers: [provideModelForms()],
  template: `
    <h2 mat-dialog-title>{{ data.kind === 'command' ? 'Send a command' : 'Patch the desired state' }}</h2>
    <form class="form" novalidate (submit)="submit($event)">
      <mat-dialog-content>
        <p class="lead">To {{ data.description }}; each device gets its own, with its own outcome.</p>
        @if (loadingModel()) {
          <mat-progress-bar mode="indeterminate" aria-label="Loading the model" />
        } @else if (useModel() && model(); as model) {
          <p class="muted">
            The devices share the model <span class="mono">{{ model.id }}&#64;{{ model.version }}</span
            >.
          </p>
          @if (data.kind === 'command') {
            <mat-form-field appearance="outline" subscriptSizing="dynamic">
              <mat-label>Command</mat-label>
              <select matNativeControl name="command" [value]="picked()" (change)="pick($any($event.target).value)">
                @for (command of commands(); track command.name) {
                  <option [value]="command.name">{{ command.spec.title ?? command.name }}</option>
                }
              </select>
            </mat-form-field>
          }
          @if (form(); as form) {
            <formly-form [form]="form.group" [fields]="form.fields" [model]="form.value" />
          }
        } @else {
          @if (data.kind === 'command') {
            <mat-form-field appearance="outline" subscriptSizing="dynamic">
              <mat-label>Command name</mat-label>
              <input
                matInput
                name="name"
                autocomplete="off"
                spellcheck="false"
                maxlength="64"
                (input)="name.set($any($event.target).value)"
              />
              @if (touched() && nameError(); as message) {
                <mat-hint class="field-error">{{ message }}</mat-hint>
              }
            </mat-form-field>
          }
          <mat-form-field appearance="outline" subscriptSizing="dynamic">
            <mat-label>{{ data.kind === 'command' ? 'Params (JSON, optional)' : 'Merge patch (JSON)' }}</mat-label>
            <textarea
              matInput
              name="json"
              rows="5"
              spellcheck="false"
              class="mono"
              [placeholder]="data.kind === 'command' ? '{&quot;value&quot;: 1}' : '{&quot;mode&quot;: &quot;eco&quot;}'"
              (input)="jsonText.set($any($event.target).value)"
            ></textarea>
            @if (touched() && json().error; as message) {
              <mat-hint class="field-error">{{ message }}</mat-hint>
            }
          </mat-form-field>
        }
        @if (modelError(); as message) {
          <p class="banner error" role="alert">Could not load the model ({{ message }}): raw JSON instead.</p>
        }
        <iot-form-problems [error]="error()" errorPrefix="Could not send it: " />
      </mat-dialog-content>
      <iot-dialog-actions
        [pending]="pending()"
        [label]="data.kind === 'command' ? 'Send to all' : 'Patch all'"
        pendingLabel="Sending…"
        [disabled]="loadingModel()"
      />
    </form>
  `,
  styleUrl: '../admin/admin-dialog.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class BulkActionDialog {
  private readonly bulkApi = inject(BulkApi);
  private readonly deviceApi = inject(DeviceApi);
  private readonly jsonSchema = inject(FormlyJsonschema);
  private readonly dialogRef = inject<MatDialogRef<BulkActionDialog, BulkCommandView>>(MatDialogRef);
  protected readonly data = inject<BulkActionData>(MAT_DIALOG_DATA);

  protected readonly model = signal<DeviceModel | null>(null);
  protected readonly loadingModel = signal(this.data.model !== null);
  protected readonly modelError = signal<string | null>(null);
  protected readonly commands = computed(() =>
    Object.entries(this.model()?.commands ?? {}).map(([name, spec]) => ({ name, spec: spec as CommandSpec })),
  );
  /** The model's forms, when it has commands (or desired properties) for them; else raw JSON. */
  protected readonly useModel = computed(() => {
    const model = this.model();
    if (!model) return false;
    return this.data.kind === 'command' ? this.commands().length > 0 : !!model.desired;
  });
  protected readonly picked = signal<string | null>(null);
  protected readonly form = computed<SchemaForm | null>(() => {
    const model = this.model();
    if (!model || !this.useModel()) return null;
    if (this.data.kind === 'desired') {
      return model.desired ? this.schemaForm(desiredSchema(model.desired)) : null;
    }
    const command = this.commands().find((c) => c.name === this.picked());
    if (!command) return null;
    return command.spec.params
      ? this.schemaForm(command.spec.params)
      : { group: new FormGroup({}), value: {}, fields: [] };
  });

  protected readonly name = signal('');
  protected readonly jsonText = signal('');
  protected readonly touched = signal(false);
  private readonly submission = dialogRequest();
  protected readonly pending = this.submission.pending;
  protected readonly error = this.submission.error;
  protected readonly nameError = computed(() => {
    const result = commandNameSchema.safeParse(this.name().trim());
    return result.success ? null : (result.error.issues[0]?.message ?? 'Invalid command name.');
  });
  protected readonly json = computed<{ value?: JsonObject; error?: string }>(() => {
    const text = this.jsonText().trim();
    if (!text) return this.data.kind === 'desired' ? { error: 'A merge patch is required.' } : {};
    const parsed = parseJsonObject(text);
    return 'error' in parsed ? { error: parsed.error } : { value: parsed.value };
  });

  constructor() {
    const ref = this.data.model;
    if (ref) {
      this.deviceApi
        .modelVersion(ref.id, ref.version)
        .pipe(takeUntilDestroyed(inject(DestroyRef)))
        .subscribe({
          next: (model) => {
            this.model.set(model);
            this.picked.set(Object.keys(model.commands ?? {})[0] ?? null);
            this.loadingModel.set(false);
          },
          error: (error: unknown) => {
            this.modelError.set(describeHttpError(error));
            this.loadingModel.set(false);
          },
        });
    }
  }

  protected pick(name: string): void {
    this.picked.set(name);
    this.error.set(null);
  }

  protected submit(event: Event): void {
    event.preventDefault();
    this.touched.set(true);
    if (this.pending() || this.loadingModel()) return;
    const request = this.request();
    if (!request) return;
    this.submission.run(request, (bulk) => this.dialogRef.close(bulk));
  }

  /** The request the form makes, or null when something is missing or wrong (then shown). */
  private request(): Observable<BulkCommandView> | null {
    const { target, kind } = this.data;
    if (this.useModel()) {
      const form = this.form();
      if (!form || form.group.invalid) {
        form?.group.markAllAsTouched();
        return null;
      }
      const value = toJson(form.value);
      const json = isJsonObject(value) ? value : {};
      if (kind === 'desired') {
        if (Object.keys(json).length === 0) {
          this.error.set('set at least one property');
          return null;
        }
        return this.bulkApi.patchDesired(target, json);
      }
      const name = this.picked() as string;
      return this.bulkApi.sendCommand(target, Object.keys(json).length > 0 ? { name, params: json } : { name });
    }
    const json = this.json();
    if (json.error) return null;
    if (kind === 'desired') return this.bulkApi.patchDesired(target, json.value ?? {});
    if (this.nameError()) return null;
    const name = this.name().trim();
    return this.bulkApi.sendCommand(target, json.value ? { name, params: json.value } : { name });
  }

  private schemaForm(schema: Parameters<typeof formFromSchema>[1]): SchemaForm {
    return { group: new FormGroup({}), value: {}, fields: [formFromSchema(this.jsonSchema, schema)] };
  }
}

export function openBulkActionDialog(
  dialog: MatDialog,
  data: BulkActionData,
): MatDialogRef<BulkActionDialog, BulkCommandView> {
  return dialog.open<BulkActionDialog, BulkActionData, BulkCommandView>(BulkActionDialog, {
    ...dialogSize('34rem'),
    data,
    ariaModal: true,
  });
}
