import {
  ChangeDetectionStrategy,
  Component,
  DestroyRef,
  effect,
  inject,
  input,
  signal,
  untracked,
} from '@angular/core';
import type { AlarmWithHistory } from '@iot/protocol';
import { AlarmsApi } from '../core/alarms/alarms-api';
import { describeHttpError } from '../core/http-error';
import { TimestampPipe } from '../ui/format.pipes';

/** One alarm's transitions, oldest first, fetched when shown and again when `revision` changes. */
@Component({
  selector: 'iot-alarm-detail',
  imports: [TimestampPipe],
  template: `
    @if (error(); as message) {
      <p class="error" role="alert">{{ message }}</p>
    } @else if (alarm(); as alarm) {
      <ol class="transitions" [attr.aria-label]="'Transitions of ' + alarm.ruleName + ' on ' + alarm.deviceId">
        @for (t of alarm.transitions; track $index) {
          <li>
            <span class="status">{{ t.status }}</span>
            <time [attr.datetime]="iso(t.ts)">{{ t.ts | timestamp }}</time>
            <span>{{ t.by ? 'by ' + t.by : 'by its rule' }}</span>
            <span class="message">{{ t.message }}</span>
            @if (t.note) {
              <q class="note">{{ t.note }}</q>
            }
          </li>
        }
      </ol>
    } @else {
      <p class="muted" role="status">Loading the transitions…</p>
    }
  `,
  styles: `
    .transitions {
      margin: 4px 0;
      padding-inline-start: 20px;
    }
    li {
      display: flex;
      flex-wrap: wrap;
      gap: 8px;
      padding: 2px 0;
    }
    .status {
      font-weight: 500;
      min-width: 7rem;
    }
    .note {
      font-style: italic;
    }
    .error {
      color: var(--mat-sys-error);
    }
    .muted {
      color: var(--mat-sys-on-surface-variant);
    }
  `,
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class AlarmDetail {
  readonly alarmId = input.required<string>();
  /** Changes when the alarm moves on: its transitions are read again. */
  readonly revision = input<string>('');
  private readonly api = inject(AlarmsApi);
  protected readonly alarm = signal<AlarmWithHistory | null>(null);
  protected readonly error = signal<string | null>(null);

  constructor() {
    let cancel: (() => void) | undefined;
    inject(DestroyRef).onDestroy(() => cancel?.());
    effect(() => {
      const id = this.alarmId();
      this.revision();
      untracked(() => {
        cancel?.();
        const subscription = this.api.alarm(id).subscribe({
          next: (alarm) => {
            this.alarm.set(alarm);
            this.error.set(null);
          },
          error: (error: unknown) => this.error.set(`Could not load the transitions: ${describeHttpError(error)}`),
        });
        cancel = () => subscription.unsubscribe();
      });
    });
  }

  protected iso(ts: number): string {
    return new Date(ts).toISOString();
  }
}
