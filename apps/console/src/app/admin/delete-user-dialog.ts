import { HttpErrorResponse, HttpStatusCode } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { MatButton } from '@angular/material/button';
import {
  MAT_DIALOG_DATA,
  MatDialog,
  MatDialogActions,
  MatDialogClose,
  MatDialogContent,
  MatDialogRef,
  MatDialogTitle,
} from '@angular/material/dialog';
import { describeHttpError } from '../core/http-error';
import { UsersApi } from '../core/users/users-api';
import { dialogSize } from './dialog-size';

/** Asks before deleting a user (Cancel focused first). Closes with `true` once the user is gone. */
@Component({
  selector: 'iot-delete-user-dialog',
  imports: [MatDialogTitle, MatDialogContent, MatDialogActions, MatDialogClose, MatButton],
  template: `
    <h2 mat-dialog-title>Delete the user?</h2>
    <mat-dialog-content>
      <p class="lead">
        <strong>{{ username }}</strong> can no longer sign in, and their sessions end at once.
      </p>
      @if (error(); as message) {
        <p class="banner error" role="alert">Could not delete the user: {{ message }}</p>
      }
    </mat-dialog-content>
    <mat-dialog-actions align="end">
      <button mat-button type="button" [mat-dialog-close]="undefined" cdkFocusInitial [disabled]="pending()">
        Cancel
      </button>
      <button mat-flat-button type="button" class="danger" [disabled]="pending()" (click)="remove()">
        {{ pending() ? 'Deleting…' : 'Delete user' }}
      </button>
    </mat-dialog-actions>
  `,
  styleUrl: './admin-dialog.scss',
  styles: `
    .danger:not([disabled]) {
      --mat-button-filled-container-color: var(--mat-sys-error);
      --mat-button-filled-label-text-color: var(--mat-sys-on-error);
    }
  `,
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class DeleteUserDialog {
  private readonly api = inject(UsersApi);
  private readonly dialogRef = inject<MatDialogRef<DeleteUserDialog, true>>(MatDialogRef);

  protected readonly username = inject<string>(MAT_DIALOG_DATA);
  protected readonly pending = signal(false);
  protected readonly error = signal<string | null>(null);

  protected remove(): void {
    if (this.pending()) return;
    this.pending.set(true);
    this.error.set(null);
    this.dialogRef.disableClose = true;
    this.api.remove(this.username).subscribe({
      next: () => this.dialogRef.close(true),
      error: (error: unknown) => {
        // Gone already (someone else deleted it): the outcome asked for.
        if (error instanceof HttpErrorResponse && error.status === HttpStatusCode.NotFound) {
          this.dialogRef.close(true);
          return;
        }
        this.pending.set(false);
        this.dialogRef.disableClose = false;
        this.error.set(describeHttpError(error));
      },
    });
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
