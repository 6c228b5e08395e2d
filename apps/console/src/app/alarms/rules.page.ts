import { ChangeDetectionStrategy, Component, computed, DestroyRef, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { MatButton } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { RouterLink } from '@angular/router';
import { type AlarmRuleView, roleAtLeast } from '@iot/protocol';
import { AlarmsApi } from '../core/alarms/alarms-api';
import { AuthService } from '../core/auth/auth.service';
import { describeHttpError } from '../core/http-error';
import { openRuleDialog } from './rule-dialog';
import { describeCondition, describeTarget } from './rule-form';
import { SeverityChip } from './severity';
import { ListStatus } from '../ui/list-status';
import { pageList } from '../ui/page-list';

/** Alarm rules: viewers read them; operators create, edit and delete them. */
@Component({
  selector: 'iot-rules-page',
  imports: [MatButton, RouterLink, SeverityChip, ListStatus],
  template: `
    <header class="header">
      <h1 class="title" id="rules-title">Alarm rules</h1>
      <a mat-button routerLink="/alarms">Alarms</a>
      <span class="spacer"></span>
      @if (canWrite()) {
        <button mat-flat-button type="button" (click)="create()">New rule</button>
      }
    </header>
    <iot-list-status [list]="list" label="Loading rules" />
    @if (notice(); as message) {
      <p class="notice" role="status">{{ message }}</p>
    }
    <table aria-labelledby="rules-title">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Severity</th>
          <th scope="col">Target</th>
          <th scope="col">Condition</th>
          <th scope="col">Enabled</th>
          <th scope="col"><span class="cdk-visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        @for (rule of rules(); track rule.id) {
          <tr [attr.data-rule]="rule.id">
            <th scope="row">{{ rule.name }}</th>
            <td><iot-severity [severity]="rule.severity" /></td>
            <td>{{ target(rule) }}</td>
            <td>{{ condition(rule) }}</td>
            <td>{{ rule.enabled ? 'yes' : 'no' }}</td>
            <td class="actions">
              @if (canWrite()) {
                @if (confirming() === rule.id) {
                  <span>Delete it, clearing its open alarms?</span>
                  <button mat-button type="button" class="delete" (click)="remove(rule)">Delete</button>
                  <button mat-button type="button" (click)="confirming.set(null)">Keep</button>
                } @else {
                  <button mat-button type="button" (click)="edit(rule)">Edit</button>
                  <button
                    mat-button
                    type="button"
                    class="delete"
                    [attr.aria-label]="'Delete ' + rule.name"
                    (click)="confirming.set(rule.id)"
                  >
                    Delete
                  </button>
                }
              }
            </td>
          </tr>
        } @empty {
          @if (!loading() && !error()) {
            <tr>
              <td colspan="6" class="muted">No alarm rules yet.</td>
            </tr>
          }
        }
      </tbody>
    </table>
  `,
  styleUrl: '../admin/admin-page.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class RulesPage {
  private readonly api = inject(AlarmsApi);
  private readonly dialog = inject(MatDialog);
  private readonly auth = inject(AuthService);
  private readonly destroyRef = inject(DestroyRef);

  protected readonly list = pageList(() => this.api.rules(), 'the rules');
  protected readonly rules = this.list.items;
  protected readonly loading = this.list.loading;
  protected readonly error = this.list.error;
  protected readonly notice = signal<string | null>(null);
  protected readonly confirming = signal<string | null>(null);
  protected readonly canWrite = computed(() => {
    const user = this.auth.user();
    return user !== null && roleAtLeast(user.role, 'operator');
  });
  protected readonly target = (rule: AlarmRuleView) => describeTarget(rule.target);
  protected readonly condition = (rule: AlarmRuleView) => describeCondition(rule.condition);

  constructor() {
    this.list.reload();
  }

  protected create(): void {
    this.notice.set(null);
    openRuleDialog(this.dialog, null).subscribe((rule) => {
      if (!rule) return;
      this.notice.set(`Created the rule ${rule.name}.`);
      this.list.reload();
    });
  }

  protected edit(rule: AlarmRuleView): void {
    this.notice.set(null);
    openRuleDialog(this.dialog, rule).subscribe((saved) => {
      if (!saved) return;
      this.notice.set(`Saved the rule ${saved.name}.`);
      this.list.reload();
    });
  }

  protected remove(rule: AlarmRuleView): void {
    this.confirming.set(null);
    this.notice.set(null);
    this.api
      .removeRule(rule.id)
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe({
        next: () => {
          this.notice.set(`Deleted the rule ${rule.name}.`);
          this.list.reload();
        },
        error: (error: unknown) => this.error.set(`Could not delete ${rule.name}: ${describeHttpError(error)}`),
      });
  }
}
