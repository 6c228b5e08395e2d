import { ChangeDetectionStrategy, Component, inject } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatProgressBar } from '@angular/material/progress-bar';
import { Clock } from '../core/time/clock';
import { RelativeTimePipe, TimestampPipe } from '../ui/format.pipes';
import { CommandStatusChip } from './command-status-chip';
import { CommandsStore } from './commands.store';

/** The device's commands, newest first, live; each expands to its transitions. */
@Component({
  selector: 'iot-command-history',
  imports: [MatButton, MatProgressBar, CommandStatusChip, RelativeTimePipe, TimestampPipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  styleUrl: './device-cards.scss',
  template: `
    <section class="card" aria-labelledby="history-title">
      <h2 id="history-title">Command history</h2>
      @if (store.loading()) {
        <mat-progress-bar mode="indeterminate" aria-label="Loading commands" />
      }
      @if (store.error(); as error) {
        <div class="banner error" role="alert">
          <span>Could not load the commands: {{ error }}</span>
          <button mat-button type="button" (click)="store.reload()">Retry</button>
        </div>
      }
      <ul class="history" aria-live="polite" aria-relevant="additions">
        @for (command of store.commands(); track command.commandId) {
          <li>
            <details>
              <summary>
                <iot-command-status-chip [status]="command.status" />
                <span class="mono name">{{ command.name }}</span>
                <span class="muted">by {{ command.createdBy ?? 'another session' }}</span>
                <time class="muted" [attr.title]="command.issuedAt | timestamp">{{
                  command.issuedAt | relativeTime: clock.now()
                }}</time>
              </summary>
              <div class="detail">
                <p class="muted mono">{{ command.commandId }}</p>
                @if (command.params && hasKeys(command.params)) {
                  <p>
                    Parameters: <code>{{ json(command.params) }}</code>
                  </p>
                }
                @if (command.error) {
                  <p class="error-text">Error: {{ command.error }}</p>
                }
                @if (command.result !== undefined) {
                  <p>
                    Result: <code>{{ json(command.result) }}</code>
                  </p>
                }
                <ol class="transitions" aria-label="Status changes">
                  @for (t of command.transitions; track t.status + t.ts) {
                    <li>
                      <iot-command-status-chip [status]="t.status" />
                      <time>{{ t.ts | timestamp }}</time>
                      @if (t.by) {
                        <span class="muted">by {{ t.by }}</span>
                      }
                    </li>
                  }
                </ol>
              </div>
            </details>
          </li>
        } @empty {
          @if (!store.loading() && !store.error()) {
            <li class="muted">No commands yet.</li>
          }
        }
      </ul>
    </section>
  `,
})
export class CommandHistory {
  protected readonly store = inject(CommandsStore);
  protected readonly clock = inject(Clock);

  protected json(value: unknown): string {
    return JSON.stringify(value);
  }

  protected hasKeys(value: object): boolean {
    return Object.keys(value).length > 0;
  }
}
