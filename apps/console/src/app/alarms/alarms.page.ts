import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { MatButton } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { MatProgressBar } from '@angular/material/progress-bar';
import { RouterLink } from '@angular/router';
import {
  ALARM_SEVERITIES,
  ALARM_STATUSES,
  type AlarmRuleView,
  type AlarmSeverity,
  type AlarmView,
  roleAtLeast,
} from '@iot/protocol';
import { isOpen } from '../core/alarms/alarm-events';
import type { AlarmFilter } from '../core/alarms/alarms-api';
import { AlarmsApi } from '../core/alarms/alarms-api';
import { OpenAlarms } from '../core/alarms/open-alarms';
import { AuthService } from '../core/auth/auth.service';
import { StreamService } from '../core/stream/stream.service';
import { Clock } from '../core/time/clock';
import { RelativeTimePipe, TimestampPipe } from '../ui/format.pipes';
import { type AlarmAction, openAlarmActionDialog } from './alarm-action-dialog';
import { AlarmDetail } from './alarm-detail';
import { AlarmsStore } from './alarms.store';
import { SeverityChip } from './severity';

/** The status filter: `open` is raised or acknowledged (the api's `active=true`), `all` no filter. */
type StatusChoice = 'open' | 'all' | AlarmView['status'];

/**
 * Alarms: open ones first, filtered by status, severity, device and rule,
 * live from the stream's `alarm` events. Operators acknowledge (with a note)
 * and clear by hand; each alarm's transitions open below its row.
 */
@Component({
  selector: 'iot-alarms-page',
  imports: [MatButton, MatProgressBar, RouterLink, RelativeTimePipe, TimestampPipe, SeverityChip, AlarmDetail],
  providers: [AlarmsStore],
  template: `
    <header class="header">
      <h1 class="title" id="alarms-title">Alarms</h1>
      <span class="spacer"></span>
      <a mat-button routerLink="/alarms/rules">Alarm rules</a>
    </header>
    <form class="filters" role="search" aria-label="Filter the alarms" (submit)="$event.preventDefault()">
      <div class="field">
        <label for="alarms-filter-status">Status</label>
        <select
          id="alarms-filter-status"
          name="status"
          [value]="status()"
          (change)="setStatus($any($event.target).value)"
        >
          <option value="open">open</option>
          @for (s of statuses; track s) {
            <option [value]="s">{{ s }}</option>
          }
          <option value="all">all</option>
        </select>
      </div>
      <div class="field">
        <label for="alarms-filter-severity">Severity</label>
        <select
          id="alarms-filter-severity"
          name="severity"
          [value]="store.filter().severity ?? ''"
          (change)="setSeverity($any($event.target).value)"
        >
          <option value="">any</option>
          @for (s of severities; track s) {
            <option [value]="s">{{ s }}</option>
          }
        </select>
      </div>
      <div class="field">
        <label for="alarms-filter-device">Device</label>
        <input
          id="alarms-filter-device"
          name="device"
          maxlength="64"
          autocomplete="off"
          placeholder="a device id"
          [value]="store.filter().deviceId ?? ''"
          (change)="setDevice($any($event.target).value)"
        />
      </div>
      <div class="field">
        <label for="alarms-filter-rule">Rule</label>
        <select
          id="alarms-filter-rule"
          name="rule"
          [value]="store.filter().ruleId ?? ''"
          (change)="setRule($any($event.target).value)"
        >
          <option value="">any</option>
          @for (rule of rules(); track rule.id) {
            <option [value]="rule.id">{{ rule.name }}</option>
          }
        </select>
      </div>
    </form>
    @if (store.loading()) {
      <mat-progress-bar mode="indeterminate" aria-label="Loading alarms" />
    }
    @if (store.error(); as message) {
      <div class="banner error" role="alert">
        <span>{{ message }}</span>
        <button mat-button type="button" (click)="store.reload()">Reload</button>
      </div>
    }
    @if (notice(); as message) {
      <p class="notice" role="status">{{ message }}</p>
    }
    <p class="summary" aria-live="polite">
      {{ openAlarms.count() }} open alarm{{ openAlarms.count() === 1 ? '' : 's'
      }}{{ stale() ? ' (reconnecting: may be out of date)' : '' }}
    </p>
    <table class="alarms" aria-labelledby="alarms-title">
      <thead>
        <tr>
          <th scope="col">Severity</th>
          <th scope="col">Device</th>
          <th scope="col">Rule</th>
          <th scope="col">Message</th>
          <th scope="col">Status</th>
          <th scope="col">Since</th>
          <th scope="col"><span class="cdk-visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        @for (alarm of store.alarms(); track alarm.id) {
          <tr [attr.data-alarm]="alarm.id" [class.closed]="!isOpen(alarm)">
            <td><iot-severity [severity]="alarm.severity" /></td>
            <th scope="row">
              <a [routerLink]="['/devices', alarm.deviceId]">{{ alarm.deviceId }}</a>
            </th>
            <td>{{ alarm.ruleName }}</td>
            <td class="message">{{ alarm.message }}</td>
            <td class="status">
              {{ alarm.status }}
              @if (alarm.status === 'acknowledged' && alarm.acknowledgedBy) {
                <span class="muted">by {{ alarm.acknowledgedBy }}</span>
              }
            </td>
            <td>
              <time [attr.datetime]="iso(alarm.raisedAt)" [attr.title]="alarm.raisedAt | timestamp">{{
                alarm.raisedAt | relativeTime: clock.now()
              }}</time>
            </td>
            <td class="actions">
              @if (canOperate()) {
                @if (alarm.status === 'raised') {
                  <button mat-button type="button" (click)="act(alarm, 'acknowledge')">Acknowledge</button>
                }
                @if (isOpen(alarm)) {
                  <button mat-button type="button" (click)="act(alarm, 'clear')">Clear</button>
                }
              }
              <button
                mat-button
                type="button"
                [attr.aria-expanded]="expanded() === alarm.id"
                [attr.aria-label]="'Details of ' + alarm.ruleName + ' on ' + alarm.deviceId"
                (click)="toggle(alarm.id)"
              >
                Details
              </button>
            </td>
          </tr>
          @if (expanded() === alarm.id) {
            <tr class="detail">
              <td colspan="7"><iot-alarm-detail [alarmId]="alarm.id" [revision]="alarm.status" /></td>
            </tr>
          }
        } @empty {
          @if (!store.loading() && !store.error()) {
            <tr>
              <td colspan="7" class="muted">No alarms match.</td>
            </tr>
          }
        }
      </tbody>
    </table>
    @if (store.hasMore()) {
      <div class="more"><button mat-button type="button" (click)="store.more()">Load more</button></div>
    }
  `,
  styleUrls: ['../admin/admin-page.scss', './alarms.page.scss'],
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class AlarmsPage {
  protected readonly store = inject(AlarmsStore);
  protected readonly openAlarms = inject(OpenAlarms);
  protected readonly clock = inject(Clock);
  private readonly api = inject(AlarmsApi);
  private readonly dialog = inject(MatDialog);
  private readonly auth = inject(AuthService);
  private readonly stream = inject(StreamService);

  protected readonly statuses = ALARM_STATUSES;
  protected readonly severities = ALARM_SEVERITIES;
  protected readonly rules = signal<readonly AlarmRuleView[]>([]);
  protected readonly expanded = signal<string | null>(null);
  protected readonly notice = signal<string | null>(null);
  protected readonly stale = computed(() => this.stream.state() !== 'live');
  protected readonly canOperate = computed(() => {
    const user = this.auth.user();
    return user !== null && roleAtLeast(user.role, 'operator');
  });
  protected readonly status = computed<StatusChoice>(() => {
    const filter = this.store.filter();
    return filter.status ?? (filter.active === true ? 'open' : 'all');
  });
  protected readonly isOpen = isOpen;

  constructor() {
    this.api
      .rules()
      .pipe(takeUntilDestroyed())
      .subscribe({ next: (rules) => this.rules.set(rules), error: () => this.rules.set([]) });
  }

  protected setStatus(value: string): void {
    const next: AlarmFilter = { ...this.store.filter(), status: undefined, active: undefined };
    if (value === 'open') next.active = true;
    else if ((ALARM_STATUSES as readonly string[]).includes(value)) next.status = value as AlarmView['status'];
    this.store.setFilter(next);
  }

  protected setSeverity(value: string): void {
    const severity = (ALARM_SEVERITIES as readonly string[]).includes(value) ? (value as AlarmSeverity) : undefined;
    this.store.setFilter({ ...this.store.filter(), severity });
  }

  protected setDevice(value: string): void {
    this.store.setFilter({ ...this.store.filter(), deviceId: value.trim().slice(0, 64) || undefined });
  }

  protected setRule(value: string): void {
    this.store.setFilter({ ...this.store.filter(), ruleId: value || undefined });
  }

  protected toggle(id: string): void {
    this.expanded.update((current) => (current === id ? null : id));
  }

  protected act(alarm: AlarmView, action: AlarmAction): void {
    this.notice.set(null);
    openAlarmActionDialog(this.dialog, { alarm, action }).subscribe((answer) => {
      if (!answer) return;
      this.store.put(answer);
      this.openAlarms.put(answer);
      this.notice.set(
        `${action === 'acknowledge' ? 'Acknowledged' : 'Cleared'} ${answer.ruleName} on ${answer.deviceId}.`,
      );
    });
  }

  protected iso(ts: number): string {
    return new Date(ts).toISOString();
  }
}
