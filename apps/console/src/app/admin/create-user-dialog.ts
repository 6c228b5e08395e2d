import { HttpErrorResponse, HttpStatusCode } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { MatDialog, MatDialogContent, MatDialogRef, MatDialogTitle } from '@angular/material/dialog';
import { MatFormField, MatHint, MatLabel } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import {
  labelSelectorSchema,
  PASSWORD_MIN_LENGTH,
  type Role,
  roleSchema,
  usernameSchema,
  type UserView,
} from '@iot/protocol';
import { describeHttpError } from '../core/http-error';
import { UsersApi } from '../core/users/users-api';
import { dialogSize } from './dialog-size';
import { DialogActions } from '../ui/dialog-actions';
import { FormProblems } from '../ui/form-problems';
import { dialogRequest } from '../ui/dialog-request';

export const PASSWORD_MAX_LENGTH = 256;

/** Why a new password cannot be used, or null; the api checks the same. */
export function passwordProblem(password: string): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `At least ${PASSWORD_MIN_LENGTH} characters.`;
  if (password.length > PASSWORD_MAX_LENGTH) return `At most ${PASSWORD_MAX_LENGTH} characters.`;
  return null;
}

/**
 * A scope as typed: trimmed, null when empty (every device), or the problem
 * with it. The api reads the same selector syntax as the fleet's filter.
 */
export function parseScope(text: string): { scope: string | null } | { problem: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { scope: null };
  const parsed = labelSelectorSchema.safeParse(trimmed);
  return parsed.success ? { scope: trimmed } : { problem: parsed.error.issues[0]?.message ?? 'not a label selector' };
}

/** Creates a user: name, first password, role, and a scope. Closes with the new user, or undefined when cancelled. */
@Component({
  selector: 'iot-create-user-dialog',
  imports: [MatDialogTitle, MatDialogContent, MatFormField, MatLabel, MatHint, MatInput, DialogActions, FormProblems],
  template: `
    <h2 mat-dialog-title>New user</h2>
    <form class="form" novalidate (submit)="create($event)">
      <mat-dialog-content>
        <mat-form-field appearance="outline" subscriptSizing="dynamic">
          <mat-label>Username</mat-label>
          <input
            matInput
            name="username"
            autocomplete="off"
            autocapitalize="none"
            spellcheck="false"
            maxlength="64"
            [value]="username()"
            [readonly]="pending()"
            (input)="username.set($any($event.target).value)"
          />
          <mat-hint>1-64 letters, digits or _ . &#64; -</mat-hint>
        </mat-form-field>
        <mat-form-field appearance="outline" subscriptSizing="dynamic">
          <mat-label>Password</mat-label>
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
          <mat-hint>At least {{ minLength }} characters; give it to the user on a safe channel.</mat-hint>
        </mat-form-field>
        <mat-form-field appearance="outline" subscriptSizing="dynamic">
          <mat-label>Role</mat-label>
          <select matNativeControl name="role" [value]="role()" (change)="role.set($any($event.target).value)">
            @for (r of roles; track r) {
              <option [value]="r">{{ r }}</option>
            }
          </select>
        </mat-form-field>
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
          <mat-hint>{{ scopeHint() }}</mat-hint>
        </mat-form-field>
        <iot-form-problems [error]="error()" errorPrefix="Could not create the user: " />
      </mat-dialog-content>
      <iot-dialog-actions [pending]="pending()" label="Create user" pendingLabel="Creating…" [disabled]="!valid()" />
    </form>
  `,
  styleUrl: './admin-dialog.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class CreateUserDialog {
  private readonly api = inject(UsersApi);
  private readonly dialogRef = inject<MatDialogRef<CreateUserDialog, UserView>>(MatDialogRef);

  protected readonly roles = roleSchema.options;
  protected readonly minLength = PASSWORD_MIN_LENGTH;
  protected readonly username = signal('');
  protected readonly password = signal('');
  protected readonly role = signal<Role>('viewer');
  protected readonly scope = signal('');
  protected readonly parsedScope = computed(() => parseScope(this.scope()));
  protected readonly scopeHint = computed(() => scopeHint(this.parsedScope()));
  protected readonly valid = computed(
    () =>
      usernameSchema.safeParse(this.username().trim()).success &&
      passwordProblem(this.password()) === null &&
      'scope' in this.parsedScope(),
  );
  private readonly submission = dialogRequest();
  protected readonly pending = this.submission.pending;
  protected readonly error = this.submission.error;

  protected create(event: Event): void {
    event.preventDefault();
    if (!this.valid() || this.pending()) return;
    const role = roleSchema.safeParse(this.role());
    if (!role.success) return;
    const parsed = this.parsedScope();
    if (!('scope' in parsed)) return;
    const user = {
      username: this.username().trim(),
      password: this.password(),
      role: role.data,
      ...(parsed.scope !== null && { scope: parsed.scope }),
    };
    this.submission.run(
      this.api.create(user),
      () => this.dialogRef.close({ username: user.username, role: user.role, scope: parsed.scope }),
      (error) => {
        const taken = error instanceof HttpErrorResponse && error.status === HttpStatusCode.Conflict;
        return taken ? `the username ${user.username} is taken` : describeHttpError(error);
      },
    );
  }
}

/** What the scope field says under it: the problem, or what the scope means. */
export function scopeHint(parsed: { scope: string | null } | { problem: string }): string {
  if ('problem' in parsed) return parsed.problem;
  return parsed.scope === null
    ? 'Empty: every device. Or labels such as site=a,floor=2; admins are never limited.'
    : `Only devices labelled ${parsed.scope}; admins are never limited.`;
}

export function openCreateUserDialog(dialog: MatDialog): MatDialogRef<CreateUserDialog, UserView> {
  return dialog.open<CreateUserDialog, void, UserView>(CreateUserDialog, { ...dialogSize('28rem'), ariaModal: true });
}
