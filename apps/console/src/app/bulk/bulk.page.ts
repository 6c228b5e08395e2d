import { ChangeDetectionStrategy, Component, computed, effect, inject, input } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatProgressBar } from '@angular/material/progress-bar';
import { RouterLink } from '@angular/router';
import { StreamService } from '../core/stream/stream.service';
import { CommandStatusChip } from '../device/command-status-chip';
import { TimestampPipe } from '../ui/format.pipes';
import { BulkStore } from './bulk.store';

/**
 * One bulk command or desired-state patch: how many devices succeeded,
 * failed or are pending, and each device's outcome, live from the stream.
 */
@Component({
  selector: 'iot-bulk-page',
  imports: [MatButton, MatProgressBar, RouterLink, CommandStatusChip, TimestampPipe],
  providers: [BulkStore],
  template: `
    <header class="header">
      <h1 class="title" id="bulk-title">{{ title() }}</h1>
      <span class="spacer"></span>
      <button mat-button type="button" [disabled]="store.loading()" (click)="store.open(id())">Reload</button>
    </header>
    @if (store.loading()) {
      <mat-progress-bar mode="indeterminate" aria-label="Loading the bulk" />
    }
    @if (store.error(); as message) {
      <div class="banner error" role="alert">Could not load the bulk: {{ message }}</div>
    }
    @if (store.view(); as view) {
      <p class="meta">
        To {{ target() }}, by {{ view.createdBy }} at
        {{ view.createdAt | timestamp }}.
      </p>
      @let progress = store.progress();
      <dl class="counts" aria-label="Progress" aria-live="polite">
        <div class="count succeeded">
          <dt>Succeeded</dt>
          <dd>{{ progress.succeeded }}</dd>
        </div>
        <div class="count failed" [class.some]="progress.failed > 0">
          <dt>Failed</dt>
          <dd>{{ progress.failed }}</dd>
        </div>
        <div class="count pending">
          <dt>Pending</dt>
          <dd>{{ progress.pending }}</dd>
        </div>
        <div class="count">
          <dt>Devices</dt>
          <dd>{{ progress.total }}</dd>
        </div>
      </dl>
      @if (!stream.live() && !store.done()) {
        <p class="stale-note">Live updates paused: what is shown may be out of date.</p>
      }
      <mat-progress-bar
        mode="determinate"
        [value]="progress.total === 0 ? 100 : (100 * (progress.total - progress.pending)) / progress.total"
        [attr.aria-label]="store.done() ? 'Every device has its outcome' : 'Devices with their outcome'"
      />
      <table aria-labelledby="bulk-title">
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Status</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          @for (row of store.rows(); track row.deviceId) {
            <tr [attr.data-device]="row.deviceId">
              <td>
                <a [routerLink]="['/devices', row.deviceId]" class="mono">{{ row.deviceId }}</a>
              </td>
              <td>
                @if (row.status; as status) {
                  <iot-command-status-chip [status]="status" />
                } @else {
                  <span class="chip refused">refused</span>
                }
              </td>
              <td>
                @if (row.detail) {
                  {{ row.detail }}
                } @else if (row.version !== null) {
                  desired version {{ row.version }}
                }
              </td>
            </tr>
          }
        </tbody>
      </table>
    }
  `,
  styleUrl: './bulk.page.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class BulkPage {
  protected readonly store = inject(BulkStore);
  protected readonly stream = inject(StreamService);
  /** The route's `:id`. */
  readonly id = input.required<string>();

  protected readonly title = computed(() => {
    const view = this.store.view();
    if (!view) return 'Bulk';
    return view.kind === 'desired' ? `Desired-state patch: ${view.name}` : `Bulk command: ${view.name}`;
  });

  /** `labels site=a` reads as every device labelled so. */
  protected readonly target = computed(() => {
    const target = this.store.view()?.target ?? '';
    return target.startsWith('labels ') ? `every device labelled ${target.slice(7)}` : 'the devices picked';
  });

  constructor() {
    effect(() => this.store.open(this.id()));
  }
}
