import { ChangeDetectionStrategy, Component, computed, inject, input, signal } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { RouterLink } from '@angular/router';
import type { AlarmView } from '@iot/protocol';
import { OpenAlarms } from '../core/alarms/open-alarms';
import { Clock } from '../core/time/clock';
import { RelativeTimePipe, TimestampPipe } from '../ui/format.pipes';
import { type AlarmAction, openAlarmActionDialog } from './alarm-action-dialog';
import { SeverityChip } from './severity';

/** A device's open alarms, live, with acknowledge and clear for operators. */
@Component({
  selector: 'iot-device-alarms',
  imports: [MatButton, RouterLink, RelativeTimePipe, TimestampPipe, SeverityChip],
  template: `
    <section aria-labelledby="device-alarms-title">
      <h2 id="device-alarms-title" class="section-title">
        Open alarms <a class="all" routerLink="/alarms">all alarms</a>
      </h2>
      @if (notice(); as message) {
        <p role="status">{{ message }}</p>
      }
      <ul class="alarms">
        @for (alarm of alarms(); track alarm.id) {
          <li [attr.data-alarm]="alarm.id">
            <iot-severity [severity]="alarm.severity" />
            <strong>{{ alarm.ruleName }}</strong>
            <span>{{ alarm.message }}</span>
            <span class="muted">{{ alarm.status }}</span>
            <time [attr.title]="alarm.raisedAt | timestamp">{{ alarm.raisedAt | relativeTime: clock.now() }}</time>
            @if (canOperate()) {
              @if (alarm.status === 'raised') {
                <button mat-button type="button" (click)="act(alarm, 'acknowledge')">Acknowledge</button>
              }
              <button mat-button type="button" (click)="act(alarm, 'clear')">Clear</button>
            }
          </li>
        } @empty {
          <li class="muted">No open alarms.</li>
        }
      </ul>
    </section>
  `,
  styles: `
    .alarms {
      list-style: none;
      margin: 0;
      padding: 0;
    }
    li {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 8px;
      padding: 4px 0;
      border-bottom: 1px solid var(--mat-sys-outline-variant);
    }
    .muted {
      color: var(--mat-sys-on-surface-variant);
    }
    .all {
      font: var(--mat-sys-body-medium);
      margin-inline-start: 8px;
    }
  `,
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class DeviceAlarms {
  readonly deviceId = input.required<string>();
  readonly canOperate = input(false);
  private readonly open = inject(OpenAlarms);
  private readonly dialog = inject(MatDialog);
  protected readonly clock = inject(Clock);
  protected readonly notice = signal<string | null>(null);
  protected readonly alarms = computed(() => this.open.forDevice(this.deviceId()));

  protected act(alarm: AlarmView, action: AlarmAction): void {
    this.notice.set(null);
    openAlarmActionDialog(this.dialog, { alarm, action }).subscribe((answer) => {
      if (!answer) return;
      this.open.put(answer);
      this.notice.set(`${action === 'acknowledge' ? 'Acknowledged' : 'Cleared'} ${answer.ruleName}.`);
    });
  }
}
