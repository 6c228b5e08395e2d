import { HttpErrorResponse, HttpStatusCode } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, inject } from '@angular/core';
import { MAT_DIALOG_DATA, MatDialog, MatDialogContent, MatDialogRef, MatDialogTitle } from '@angular/material/dialog';
import { describeHttpError } from '../core/http-error';
import { UsersApi } from '../core/users/users-api';
import { dialogSize } from './dialog-size';
import { DialogActions } from '../ui/dialog-actions';
import { FormProblems } from '../ui/form-problems';
import { dialogRequest } from '../ui/dialog-request';

/** Asks before deleting a user (Cancel focused first). Closes with `true` once the user is gone. */
@Component({
  selector: 'iot-delete-user-dialog',
  imports: [MatDialogTitle, MatDialogContent, DialogActions, FormProblems],
  template: `
    <h2 mat-dialog-title>Delete the user?</h2>
    <mat-dialog-content>
      <p class="lead">
        <strong>{{ username }}</strong> can no longer sign in, and their sessions end at once.
      </p>
      <iot-form-problems [error]="error()" errorPrefix="Could not delete the user: " />
    </mat-dialog-content>
    <iot-dialog-actions
      [pending]="pending()"
      label="Delete user"
      pendingLabel="Deleting…"
      type="button"
      buttonClass="danger"
      focusCancel
      (confirmed)="remove()"
    />
  `,
  styleUrl: './admin-dialog.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class DeleteUserDialog {
  private readonly api = inject(UsersApi);
  private readonly dialogRef = inject<MatDialogRef<DeleteUserDialog, true>>(MatDialogRef);

  protected readonly username = inject<string>(MAT_DIALOG_DATA);
  private readonly submission = dialogRequest();
  protected readonly pending = this.submission.pending;
  protected readonly error = this.submission.error;

  protected remove(): void {
    if (this.pending()) return;
    this.submission.run(
      this.api.remove(this.username),
      () => this.dialogRef.close(true),
      (error) => {
        // Gone already (someone else deleted it): the outcome asked for.
        if (error instanceof HttpErrorResponse && error.status === HttpStatusCode.NotFound) {
          this.dialogRef.close(true);
          return null;
        }
        return describeHttpError(error);
      },
    );
  }
}

export function openDeleteUserDialog(dialog: MatDialog, username: string): MatDialogRef<DeleteUserDialog, true> {
  return dialog.open<DeleteUserDialog, string, true>(DeleteUserDialog, {
    ...dialogSize('28rem'),
    data: username,
    ariaModal: true,
    role: 'alertdialog',
  });
}
