import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { MatDialog, MatDialogContent, MatDialogRef, MatDialogTitle } from '@angular/material/dialog';
import { MatFormField, MatHint, MatLabel } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { PASSWORD_MIN_LENGTH } from '@iot/protocol';
import { passwordProblem } from '../admin/create-user-dialog';
import { dialogSize } from '../admin/dialog-size';
import { AuthService } from '../core/auth/auth.service';
import { UsersApi } from '../core/users/users-api';
import { DialogActions } from '../ui/dialog-actions';
import { FormProblems } from '../ui/form-problems';
import { dialogRequest } from '../ui/dialog-request';

/**
 * Changes the signed-in user's own password. On success the api has ended
 * every session of the user, this one included: the console signs out and
 * shows the login page.
 */
@Component({
  selector: 'iot-change-password-dialog',
  imports: [MatDialogTitle, MatDialogContent, MatFormField, MatLabel, MatHint, MatInput, DialogActions, FormProblems],
  template: `
    <h2 mat-dialog-title>Change your password</h2>
    <form class="form" novalidate (submit)="change($event)">
      <mat-dialog-content>
        <p class="lead">Every session of yours ends, this one too: sign in again with the new password.</p>
        <mat-form-field appearance="outline" subscriptSizing="dynamic">
          <mat-label>Current password</mat-label>
          <input
            matInput
            name="current-password"
            type="password"
            autocomplete="current-password"
            maxlength="256"
            [value]="current()"
            [readonly]="pending()"
            (input)="current.set($any($event.target).value)"
          />
        </mat-form-field>
        <mat-form-field appearance="outline" subscriptSizing="dynamic">
          <mat-label>New password</mat-label>
          <input
            matInput
            name="new-password"
            type="password"
            autocomplete="new-password"
            maxlength="256"
            [value]="next()"
            [readonly]="pending()"
            (input)="next.set($any($event.target).value)"
          />
          <mat-hint>At least {{ minLength }} characters</mat-hint>
        </mat-form-field>
        <iot-form-problems [error]="error()" errorPrefix="Could not change the password: " />
      </mat-dialog-content>
      <iot-dialog-actions
        [pending]="pending()"
        label="Change password"
        pendingLabel="Changing…"
        [disabled]="!valid()"
      />
    </form>
  `,
  styleUrl: '../admin/admin-dialog.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ChangePasswordDialog {
  private readonly api = inject(UsersApi);
  private readonly auth = inject(AuthService);
  private readonly dialogRef = inject<MatDialogRef<ChangePasswordDialog, true>>(MatDialogRef);

  protected readonly minLength = PASSWORD_MIN_LENGTH;
  protected readonly current = signal('');
  protected readonly next = signal('');
  protected readonly valid = computed(
    () => this.current().length > 0 && this.current().length <= 256 && passwordProblem(this.next()) === null,
  );
  private readonly submission = dialogRequest();
  protected readonly pending = this.submission.pending;
  protected readonly error = this.submission.error;

  protected change(event: Event): void {
    event.preventDefault();
    if (!this.valid() || this.pending()) return;
    this.submission.run(
      this.api.changeOwnPassword({ currentPassword: this.current(), newPassword: this.next() }),
      () => {
        this.dialogRef.close(true);
        // The session cookie no longer works: sign out here too.
        this.auth.sessionEnded();
      },
    );
  }
}

export function openChangePasswordDialog(dialog: MatDialog): MatDialogRef<ChangePasswordDialog, true> {
  return dialog.open<ChangePasswordDialog, void, true>(ChangePasswordDialog, {
    ...dialogSize('28rem'),
    ariaModal: true,
  });
}
