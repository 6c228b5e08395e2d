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
import { MatButton } from '@angular/material/button';
import {
  MAT_DIALOG_DATA,
  MatDialog,
  MatDialogActions,
  MatDialogContent,
  MatDialogRef,
  MatDialogTitle,
} from '@angular/material/dialog';
import type { DeviceCredentials } from '@iot/protocol';
import { DevicesApi } from '../core/devices/devices-api';
import { describeHttpError } from '../core/http-error';
import type { AdminDevice } from './admin-device';
import { DeviceCredentialsView } from './device-credentials';
import { dialogSize } from './dialog-size';
import { DialogActions } from '../ui/dialog-actions';
import { FormProblems } from '../ui/form-problems';

/**
 * Asks before rotating a device's secret, rotates it, then shows the new one
 * once. Cancel is focused first: rotating cuts the device off until it is
 * given the new secret. Closes with the new credentials, or undefined when
 * cancelled.
 */
@Component({
  selector: 'iot-rotate-secret-dialog',
  imports: [
    MatDialogTitle,
    MatDialogContent,
    MatDialogActions,
    MatButton,
    DeviceCredentialsView,
    DialogActions,
    FormProblems,
  ],
  template: `
    <h2 mat-dialog-title #title tabindex="-1">{{ credentials() ? 'New secret' : 'Rotate the secret?' }}</h2>
    @if (credentials(); as credentials) {
      <mat-dialog-content>
        <p class="lead">
          <strong>{{ device.name }}</strong> (<code>{{ device.id }}</code
          >) has a new secret. The old one no longer works.
        </p>
        <iot-device-credentials [credentials]="credentials" />
      </mat-dialog-content>
      <mat-dialog-actions align="end">
        <button mat-flat-button type="button" (click)="done()">Done, I have saved the secret</button>
      </mat-dialog-actions>
    } @else {
      <mat-dialog-content>
        <p class="lead">
          A new secret is issued for <strong>{{ device.name }}</strong> (<code>{{ device.id }}</code
          >).
        </p>
        <p class="warning">
          The current secret stops working at once and the device's live connection is dropped: it cannot connect again
          until it is given the new secret.
        </p>
        <iot-form-problems [error]="error()" errorPrefix="Could not rotate the secret: " />
      </mat-dialog-content>
      <iot-dialog-actions
        [pending]="pending()"
        label="Rotate secret"
        pendingLabel="Rotating…"
        type="button"
        buttonClass="confirm"
        focusCancel
        (confirmed)="rotate()"
      />
    }
  `,
  styleUrl: './admin-dialog.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class RotateSecretDialog {
  private readonly api = inject(DevicesApi);
  private readonly injector = inject(Injector);
  private readonly dialogRef = inject<MatDialogRef<RotateSecretDialog, DeviceCredentials>>(MatDialogRef);
  private readonly title = viewChild.required<ElementRef<HTMLElement>>('title');

  protected readonly device = inject<AdminDevice>(MAT_DIALOG_DATA);
  protected readonly pending = signal(false);
  protected readonly error = signal<string | null>(null);
  /** The new credentials, once the api has issued them. */
  protected readonly credentials = signal<DeviceCredentials | null>(null);

  protected rotate(): void {
    if (this.pending() || this.credentials()) return;
    this.pending.set(true);
    this.error.set(null);
    // From here the old secret may be gone: the dialog stays until the new one has been seen.
    this.dialogRef.disableClose = true;
    this.api.rotateCredentials(this.device.id).subscribe({
      next: (credentials) => {
        this.pending.set(false);
        this.credentials.set(credentials);
        afterNextRender(() => this.title().nativeElement.focus(), { injector: this.injector });
      },
      error: (error: unknown) => {
        this.pending.set(false);
        this.dialogRef.disableClose = false;
        this.error.set(describeHttpError(error));
      },
    });
  }

  protected done(): void {
    this.dialogRef.close(this.credentials() ?? undefined);
  }
}

/** Opens the rotate dialog for `device`; it closes with the new credentials, or undefined when cancelled. */
export function openRotateSecretDialog(
  dialog: MatDialog,
  device: AdminDevice,
): MatDialogRef<RotateSecretDialog, DeviceCredentials> {
  return dialog.open<RotateSecretDialog, AdminDevice, DeviceCredentials>(RotateSecretDialog, {
    ...dialogSize('40rem'),
    data: device,
    ariaModal: true,
    role: 'alertdialog',
  });
}
