import { HttpErrorResponse, HttpStatusCode } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { MAT_DIALOG_DATA, MatDialog, MatDialogContent, MatDialogRef, MatDialogTitle } from '@angular/material/dialog';
import { MatFormField, MatHint, MatLabel } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { DevicesApi } from '../core/devices/devices-api';
import { describeHttpError } from '../core/http-error';
import type { AdminDevice } from './admin-device';
import { dialogSize } from './dialog-size';
import { DialogActions } from '../ui/dialog-actions';
import { FormProblems } from '../ui/form-problems';
import { dialogRequest } from '../ui/dialog-request';

/**
 * Deletes a device once its id has been typed out: the delete takes its
 * history and its secret with it and cannot be undone. Closes with `true`
 * when the device is gone (also when someone else deleted it first), or
 * undefined when cancelled.
 */
@Component({
  selector: 'iot-delete-device-dialog',
  imports: [MatDialogTitle, MatDialogContent, MatFormField, MatLabel, MatHint, MatInput, DialogActions, FormProblems],
  template: `
    <h2 mat-dialog-title>Delete the device?</h2>
    <form class="form" novalidate (submit)="remove($event)">
      <mat-dialog-content>
        <p class="lead">
          This deletes <strong>{{ device.name }}</strong> (<code>{{ device.id }}</code
          >) with all its telemetry, state and command history, and revokes its secret. It cannot be undone.
        </p>
        <mat-form-field appearance="outline" subscriptSizing="dynamic">
          <mat-label>Type the device id to confirm</mat-label>
          <input
            matInput
            name="confirm-id"
            autocomplete="off"
            autocapitalize="none"
            spellcheck="false"
            class="mono"
            [value]="typed()"
            [readonly]="pending()"
            (input)="typed.set($any($event.target).value)"
          />
          <mat-hint>
            Type <code>{{ device.id }}</code>
          </mat-hint>
        </mat-form-field>
        <iot-form-problems [error]="error()" errorPrefix="Could not delete the device: " />
      </mat-dialog-content>
      <iot-dialog-actions
        [pending]="pending()"
        label="Delete device"
        pendingLabel="Deleting…"
        [disabled]="!matches()"
        buttonClass="danger"
      />
    </form>
  `,
  styleUrl: './admin-dialog.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class DeleteDeviceDialog {
  private readonly api = inject(DevicesApi);
  private readonly dialogRef = inject<MatDialogRef<DeleteDeviceDialog, true>>(MatDialogRef);

  protected readonly device = inject<AdminDevice>(MAT_DIALOG_DATA);
  protected readonly typed = signal('');
  /** Exactly the id: ids are case-sensitive, so a case-insensitive match would confirm another device's. */
  protected readonly matches = computed(() => this.typed().trim() === this.device.id);
  private readonly submission = dialogRequest();
  protected readonly pending = this.submission.pending;
  protected readonly error = this.submission.error;

  protected remove(event: Event): void {
    event.preventDefault();
    if (!this.matches() || this.pending()) return;
    this.submission.run(
      this.api.remove(this.device.id),
      () => this.dialogRef.close(true),
      (error) => {
        if (error instanceof HttpErrorResponse && error.status === HttpStatusCode.NotFound) {
          this.dialogRef.close(true);
          return null;
        }
        return describeHttpError(error);
      },
    );
  }
}

/** Opens the delete dialog for `device`; it closes with `true` once the device is gone. */
export function openDeleteDeviceDialog(dialog: MatDialog, device: AdminDevice): MatDialogRef<DeleteDeviceDialog, true> {
  return dialog.open<DeleteDeviceDialog, AdminDevice, true>(DeleteDeviceDialog, {
    ...dialogSize('32rem'),
    data: device,
    ariaModal: true,
    role: 'alertdialog',
  });
}
