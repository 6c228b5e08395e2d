import { ChangeDetectionStrategy, Component, computed, DestroyRef, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { MatButton } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { type Role, roleSchema, type UserView } from '@iot/protocol';
import { map, type Observable } from 'rxjs';
import { AuthService } from '../core/auth/auth.service';
import { describeHttpError } from '../core/http-error';
import { UsersApi } from '../core/users/users-api';
import { openCreateUserDialog } from './create-user-dialog';
import { openDeleteUserDialog } from './delete-user-dialog';
import { openResetPasswordDialog } from './reset-password-dialog';
import { openScopeDialog } from './scope-dialog';
import { ListStatus } from '../ui/list-status';
import { pageList } from '../ui/page-list';

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/**
 * Users (admin): list, create, change role or scope, reset password, delete. The
 * signed-in admin's own row has no controls: each would end this session
 * mid-click; their own password is changed from the toolbar.
 */
@Component({
  selector: 'iot-users-page',
  imports: [MatButton, ListStatus],
  template: `
    <header class="header">
      <h1 class="title" id="users-title">Users</h1>
      <span class="spacer"></span>
      <button mat-flat-button type="button" (click)="create()">New user</button>
    </header>
    <iot-list-status [list]="list" label="Loading users" />
    @if (notice(); as message) {
      <p class="notice" role="status">{{ message }}</p>
    }
    <table class="users" aria-labelledby="users-title">
      <thead>
        <tr>
          <th scope="col">Username</th>
          <th scope="col">Role</th>
          <th scope="col">Scope</th>
          <th scope="col"><span class="cdk-visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        @for (user of users(); track user.username) {
          <tr [attr.data-username]="user.username">
            <th scope="row" class="username">
              {{ user.username }}
              @if (user.username === me()) {
                <span class="you">(you)</span>
              }
            </th>
            <td>
              @if (user.username === me()) {
                {{ user.role }}
              } @else {
                <select
                  class="role"
                  [attr.aria-label]="'Role of ' + user.username"
                  [value]="user.role"
                  [disabled]="busy() === user.username"
                  (change)="changeRole(user, $any($event.target))"
                >
                  @for (r of roles; track r) {
                    <option [value]="r" [selected]="r === user.role">{{ r }}</option>
                  }
                </select>
              }
            </td>
            <td class="scope">
              @if (user.role === 'admin') {
                <span class="muted">every device (admin)</span>
              } @else if (user.scope) {
                <code>{{ user.scope }}</code>
              } @else {
                <span class="muted">every device</span>
              }
            </td>
            <td class="actions">
              @if (user.username === me()) {
                <span class="muted">Your own password: “Password” in the toolbar</span>
              } @else {
                <button mat-button type="button" (click)="setScope(user)">Scope</button>
                <button mat-button type="button" (click)="resetPassword(user)">Reset password</button>
                <button mat-button type="button" class="delete" (click)="remove(user)">Delete</button>
              }
            </td>
          </tr>
        } @empty {
          @if (!loading() && !error()) {
            <tr>
              <td colspan="4" class="muted">No users.</td>
            </tr>
          }
        }
      </tbody>
    </table>
  `,
  styleUrl: './admin-page.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class UsersPage {
  private readonly api = inject(UsersApi);
  private readonly dialog = inject(MatDialog);
  private readonly destroyRef = inject(DestroyRef);
  private readonly auth = inject(AuthService);

  protected readonly roles = roleSchema.options;
  protected readonly list = pageList(
    () => this.api.list().pipe(map((users) => [...users].sort((a, b) => collator.compare(a.username, b.username)))),
    'the users',
  );
  protected readonly users = this.list.items;
  protected readonly loading = this.list.loading;
  protected readonly error = this.list.error;
  protected readonly notice = signal<string | null>(null);
  /** The user whose role is being changed. */
  protected readonly busy = signal<string | null>(null);
  protected readonly me = computed(() => this.auth.user()?.username ?? null);

  constructor() {
    this.list.reload();
  }

  protected create(): void {
    this.afterClose(openCreateUserDialog(this.dialog).afterClosed(), (user) => {
      this.notice.set(`Created ${user.username} (${user.role}).`);
      this.list.reload();
    });
  }

  protected changeRole(user: UserView, select: HTMLSelectElement): void {
    const role = roleSchema.safeParse(select.value);
    if (!role.success || role.data === user.role) return;
    const next: Role = role.data;
    this.busy.set(user.username);
    this.error.set(null);
    this.notice.set(null);
    this.api
      .update(user.username, { role: next })
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe({
        next: () => {
          this.busy.set(null);
          this.users.update((all) => all.map((u) => (u.username === user.username ? { ...u, role: next } : u)));
          this.notice.set(`${user.username} is now ${next}; their sessions have ended.`);
        },
        error: (error: unknown) => {
          this.busy.set(null);
          select.value = user.role; // the role did not change
          this.error.set(`Could not change the role of ${user.username}: ${describeHttpError(error)}`);
        },
      });
  }

  protected setScope(user: UserView): void {
    this.afterClose(openScopeDialog(this.dialog, user).afterClosed(), ({ scope }) => {
      this.users.update((all) => all.map((u) => (u.username === user.username ? { ...u, scope } : u)));
      const limit = scope === null ? 'every device' : `devices labelled ${scope}`;
      this.notice.set(`${user.username} now sees ${limit}; their sessions have ended.`);
    });
  }

  protected resetPassword(user: UserView): void {
    this.afterClose(openResetPasswordDialog(this.dialog, user.username).afterClosed(), () =>
      this.notice.set(`The password of ${user.username} is set; their sessions have ended.`),
    );
  }

  protected remove(user: UserView): void {
    this.afterClose(openDeleteUserDialog(this.dialog, user.username).afterClosed(), () => {
      this.users.update((all) => all.filter((u) => u.username !== user.username));
      this.notice.set(`Deleted ${user.username}.`);
    });
  }

  private afterClose<T>(closed: Observable<T | undefined>, done: (value: T) => void): void {
    closed.pipe(takeUntilDestroyed(this.destroyRef)).subscribe((value) => {
      if (value) done(value);
    });
  }
}
