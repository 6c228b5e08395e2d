import { HttpErrorResponse, HttpStatusCode } from '@angular/common/http';
import {
  afterNextRender,
  ChangeDetectionStrategy,
  Component,
  ElementRef,
  inject,
  Injector,
  signal,
  viewChild,
} from '@angular/core';
import {
  type AbstractControl,
  type FormArray,
  type FormControl,
  type FormGroup,
  NonNullableFormBuilder,
  ReactiveFormsModule,
  type ValidationErrors,
} from '@angular/forms';
import { MatButton, MatIconButton } from '@angular/material/button';
import { MatDialog, MatDialogActions, MatDialogContent, MatDialogRef, MatDialogTitle } from '@angular/material/dialog';
import { MatError, MatFormField, MatHint, MatLabel, MatSuffix } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { Router } from '@angular/router';
import { createDeviceSchema, type CreateDeviceResponse, type DeviceView } from '@iot/protocol';
import { DevicesApi } from '../core/devices/devices-api';
import { describeHttpError } from '../core/http-error';
import { DeviceCredentialsView } from './device-credentials';
import { dialogSize } from './dialog-size';
import {
  apiFieldErrors,
  blankToUndefined,
  describeIssue,
  SCHEMA_ERROR,
  schemaError,
  schemaValidator,
} from './schema-errors';
import { DialogActions } from '../ui/dialog-actions';

type LabelRow = FormGroup<{ key: FormControl<string>; value: FormControl<string> }>;

const { shape } = createDeviceSchema;
/** A label key checked alone, and a value checked under a key known to be good. */
const labelKeyValidator = schemaValidator(shape.labels, (key: string) => ({ [key]: '' }));
const labelValueValidator = schemaValidator(shape.labels, (value: string) => ({ key: value }));

/** Duplicate keys, and whatever the schema says of the labels as a whole (how many there may be). */
function labelsValidator(control: AbstractControl): ValidationErrors | null {
  const rows = (control as FormArray<LabelRow>).getRawValue();
  const keys = rows.map((row) => row.key);
  const duplicate = keys.find((key, i) => key !== '' && keys.indexOf(key) !== i);
  if (duplicate !== undefined) return { [SCHEMA_ERROR]: `The label “${duplicate}” is given twice.` };
  const result = shape.labels.safeParse(Object.fromEntries(rows.map((row) => [row.key, row.value])));
  const whole = result.error?.issues.find((issue) => issue.path.length === 0);
  return whole ? { [SCHEMA_ERROR]: describeIssue(whole) } : null;
}

/** The fields the api may name in a 400; anything else is shown above the buttons. */
const FIELDS = ['id', 'name', 'type', 'labels'] as const;
type Field = (typeof FIELDS)[number];

/**
 * Registers a device: a form checked with the protocol's own schema, then,
 * once the api has answered, the device's credentials, shown this once. The
 * dialog closes with the new device, or with nothing when cancelled.
 */
@Component({
  selector: 'iot-register-device-dialog',
  imports: [
    ReactiveFormsModule,
    MatDialogTitle,
    MatDialogContent,
    MatDialogActions,
    MatFormField,
    MatLabel,
    MatHint,
    MatError,
    MatSuffix,
    MatInput,
    MatButton,
    MatIconButton,
    DeviceCredentialsView,
    DialogActions,
  ],
  templateUrl: './register-device-dialog.html',
  styleUrl: './admin-dialog.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class RegisterDeviceDialog {
  private readonly api = inject(DevicesApi);
  private readonly router = inject(Router);
  private readonly injector = inject(Injector);
  private readonly dialogRef = inject<MatDialogRef<RegisterDeviceDialog, DeviceView>>(MatDialogRef);
  private readonly host = inject<ElementRef<HTMLElement>>(ElementRef);
  private readonly fb = inject(NonNullableFormBuilder);
  private readonly title = viewChild.required<ElementRef<HTMLElement>>('title');

  protected readonly form = this.fb.group({
    id: ['', schemaValidator(shape.id, blankToUndefined)],
    name: ['', schemaValidator(shape.name)],
    type: ['', schemaValidator(shape.type, blankToUndefined)],
    labels: this.fb.array<LabelRow>([], labelsValidator),
  });
  protected readonly labels = this.form.controls.labels;
  protected readonly pending = signal(false);
  /** Why the api refused, when no single field is to blame. */
  protected readonly error = signal<string | null>(null);
  /** The api's answer: the device and its one-time credentials. */
  protected readonly created = signal<CreateDeviceResponse | null>(null);
  protected readonly schemaError = schemaError;

  protected addLabel(): void {
    this.labels.push(this.fb.group({ key: ['', labelKeyValidator], value: ['', labelValueValidator] }) as LabelRow);
    const index = this.labels.length - 1;
    this.focusAfterRender(`input[data-label-key="${index}"]`);
  }

  protected removeLabel(index: number): void {
    this.labels.removeAt(index);
    // Focus stays in the list: on the row that took this one's place, else the one before, else "Add label".
    const next = Math.min(index, this.labels.length - 1);
    if (next >= 0) this.focusAfterRender(`input[data-label-key="${next}"]`);
    else this.focusAfterRender('.add-label');
  }

  protected submit(): void {
    if (this.pending() || this.created()) return;
    this.error.set(null);
    const parsed = this.request();
    if (this.form.invalid || !parsed.success) {
      // Every rule is on a field, so this is only a fallback: say what the schema refused.
      if (this.form.valid && !parsed.success) this.error.set(describeIssue(parsed.error.issues[0]));
      this.form.markAllAsTouched();
      this.focusFirstInvalid();
      return;
    }
    const request = parsed.data;
    this.pending.set(true);
    // A response in flight holds the only copy of the secret: the dialog must not close under it.
    this.dialogRef.disableClose = true;
    this.api.create(request).subscribe({
      next: (response) => {
        this.pending.set(false);
        this.created.set(response);
        afterNextRender(() => this.title().nativeElement.focus(), { injector: this.injector });
      },
      error: (error: unknown) => {
        this.pending.set(false);
        this.dialogRef.disableClose = false;
        this.showApiError(error);
      },
    });
  }

  protected done(): void {
    this.dialogRef.close(this.created()?.device);
  }

  protected openDevice(): void {
    const device = this.created()?.device;
    this.dialogRef.close(device);
    if (device) void this.router.navigate(['/devices', device.id]);
  }

  /** The body to send, as the protocol's schema reads it: names trimmed, blank optional fields left out. */
  private request(): ReturnType<typeof createDeviceSchema.safeParse> {
    const { id, name, type, labels } = this.form.getRawValue();
    return createDeviceSchema.safeParse({
      id: blankToUndefined(id),
      name,
      type: blankToUndefined(type),
      labels: labels.length > 0 ? Object.fromEntries(labels.map((row) => [row.key, row.value])) : undefined,
    });
  }

  private showApiError(error: unknown): void {
    const controls = this.form.controls;
    if (error instanceof HttpErrorResponse && error.status === HttpStatusCode.Conflict && controls.id.value) {
      this.setServerError(controls.id, 'A device with this id exists already. Choose another id.');
      this.focusFirstInvalid();
      return;
    }
    const fields = apiFieldErrors(error);
    if (!fields) {
      this.error.set(describeHttpError(error));
      return;
    }
    const other: string[] = [];
    for (const [path, message] of fields) {
      const field = path.split('.')[0] as Field;
      if (FIELDS.includes(field)) this.setServerError(controls[field], message);
      else other.push(message);
    }
    if (other.length > 0) this.error.set(other.join(' '));
    this.focusFirstInvalid();
  }

  /** Shown like a validation error until the field is edited (its validators then run again). */
  private setServerError(control: AbstractControl, message: string): void {
    control.setErrors({ [SCHEMA_ERROR]: message });
    control.markAsTouched();
  }

  private focusFirstInvalid(): void {
    // In page order: the first field the message is about, else the message itself.
    this.focusAfterRender('input.ng-invalid, .labels-error, .form-error');
  }

  private focusAfterRender(selector: string): void {
    afterNextRender(() => this.host.nativeElement.querySelector<HTMLElement>(selector)?.focus(), {
      injector: this.injector,
    });
  }
}

/** Opens the register dialog; it closes with the new device, or undefined when cancelled. */
export function openRegisterDeviceDialog(dialog: MatDialog): MatDialogRef<RegisterDeviceDialog, DeviceView> {
  return dialog.open<RegisterDeviceDialog, void, DeviceView>(RegisterDeviceDialog, {
    ...dialogSize('40rem'),
    ariaModal: true,
    autoFocus: 'first-tabbable',
  });
}
