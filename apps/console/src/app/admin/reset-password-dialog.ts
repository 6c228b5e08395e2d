import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { MAT_DIALOG_DATA, MatDialog, MatDialogContent, MatDialogRef, MatDialogTitle } from '@angular/material/dialog';
import { MatFormField, MatHint, MatLabel } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { PASSWORD_MIN_LENGTH } from '@iot/protocol';
import { UsersApi } from '../core/users/users-api';
import { passwordProblem } from './create-user-dialog';
import { dialogSize } from './dialog-size';
import { DialogActions } from '../ui/dialog-actions';
import { FormProblems } from '../ui/form-problems';
import { dialogRequest } from '../ui/dialog-request';

/** Sets a user's password (admin); the user's sessions end. Closes with `true` once set. */
@Component({
  selector: 'iot-reset-password-dialog',
  imports: [MatDialogTitle, MatDialogContent, MatFormField, MatLabel, MatHint, MatInput, DialogActions, FormProblems],
  template: `
    <h2 mat-dialog-title>Reset the password</h2>
    <form class="form" novalidate (submit)="reset($event)">
      <mat-dialog-content>
        <p class="lead">
          A new password for <strong>{{ username }}</strong
          >. Their sessions end at once.
        </p>
        <mat-form-field appearance="outline" subscriptSizing="dynamic">
          <mat-label>New password</mat-label>
          <input
            matInput
            name="new-password"
            type="password"
            autocomplete="new-password"
            maxlength="256"
            [value]="password()"
            [readonly]="pending()"
            (input)="password.set($any($event.target).value)"
          />
          <mat-hint>At least {{ minLength }} characters</mat-hint>
        </mat-form-field>
        <iot-form-problems [error]="error()" errorPrefix="Could not reset the password: " />
      </mat-dialog-content>
      <iot-dialog-actions [pending]="pending()" label="Set password" pendingLabel="Saving…" [disabled]="!valid()" />
    </form>
  `,
  styleUrl: './admin-dialog.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ResetPasswordDialog {
  private readonly api = inject(UsersApi);
  private readonly dialogRef = inject<MatDialogRef<ResetPasswordDialog, true>>(MatDialogRef);

  protected readonly username = inject<string>(MAT_DIALOG_DATA);
  protected readonly minLength = PASSWORD_MIN_LENGTH;
  protected readonly password = signal('');
  protected readonly valid = computed(() => passwordProblem(this.password()) === null);
  private readonly submission = dialogRequest();
  protected readonly pending = this.submission.pending;
  protected readonly error = this.submission.error;

  protected reset(event: Event): void {
    event.preventDefault();
    if (!this.valid() || this.pending()) return;
    this.submission.run(this.api.update(this.username, { password: this.password() }), () =>
      this.dialogRef.close(true),
    );
  }
}

export function openResetPasswordDialog(dialog: MatDialog, username: string): MatDialogRef<ResetPasswordDialog, true> {
  return dialog.open<ResetPasswordDialog, string, true>(ResetPasswordDialog, {
    ...dialogSize('28rem'),
    data: username,
    ariaModal: true,
  });
}
