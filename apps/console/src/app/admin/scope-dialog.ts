import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { MAT_DIALOG_DATA, MatDialog, MatDialogContent, MatDialogRef, MatDialogTitle } from '@angular/material/dialog';
import { MatFormField, MatHint, MatLabel } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import type { UserView } from '@iot/protocol';
import { UsersApi } from '../core/users/users-api';
import { parseScope, scopeHint } from './create-user-dialog';
import { dialogSize } from './dialog-size';
import { DialogActions } from '../ui/dialog-actions';
import { FormProblems } from '../ui/form-problems';
import { dialogRequest } from '../ui/dialog-request';

/** Sets the devices a user is limited to (admin); the user's sessions end. Closes with the new scope once set. */
@Component({
  selector: 'iot-scope-dialog',
  imports: [MatDialogTitle, MatDialogContent, MatFormField, MatLabel, MatHint, MatInput, DialogActions, FormProblems],
  template: `
    <h2 mat-dialog-title>Scope</h2>
    <form class="form" novalidate (submit)="save($event)">
      <mat-dialog-content>
        <p class="lead">
          The devices <strong>{{ user.username }}</strong> sees and commands. Their sessions end at once.
        </p>
        <mat-form-field appearance="outline" subscriptSizing="dynamic">
          <mat-label>Scope</mat-label>
          <input
            matInput
            name="scope"
            autocomplete="off"
            autocapitalize="none"
            spellcheck="false"
            maxlength="2048"
            placeholder="site=a"
            [value]="scope()"
            [readonly]="pending()"
            (input)="scope.set($any($event.target).value)"
          />
          <mat-hint>{{ hint() }}</mat-hint>
        </mat-form-field>
        <iot-form-problems [error]="error()" errorPrefix="Could not set the scope: " />
      </mat-dialog-content>
      <iot-dialog-actions [pending]="pending()" label="Set scope" pendingLabel="Saving…" [disabled]="!valid()" />
    </form>
  `,
  styleUrl: './admin-dialog.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ScopeDialog {
  private readonly api = inject(UsersApi);
  private readonly dialogRef = inject<MatDialogRef<ScopeDialog, { scope: string | null }>>(MatDialogRef);

  protected readonly user = inject<UserView>(MAT_DIALOG_DATA);
  protected readonly scope = signal(this.user.scope ?? '');
  private readonly parsed = computed(() => parseScope(this.scope()));
  protected readonly hint = computed(() => scopeHint(this.parsed()));
  protected readonly valid = computed(() => {
    const parsed = this.parsed();
    return 'scope' in parsed && parsed.scope !== this.user.scope;
  });
  private readonly submission = dialogRequest();
  protected readonly pending = this.submission.pending;
  protected readonly error = this.submission.error;

  protected save(event: Event): void {
    event.preventDefault();
    const parsed = this.parsed();
    if (!this.valid() || this.pending() || !('scope' in parsed)) return;
    this.submission.run(this.api.update(this.user.username, { scope: parsed.scope }), () =>
      this.dialogRef.close({ scope: parsed.scope }),
    );
  }
}

export function openScopeDialog(
  dialog: MatDialog,
  user: UserView,
): MatDialogRef<ScopeDialog, { scope: string | null }> {
  return dialog.open<ScopeDialog, UserView, { scope: string | null }>(ScopeDialog, {
    ...dialogSize('28rem'),
    data: user,
    ariaModal: true,
  });
}
