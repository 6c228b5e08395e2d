import { ChangeDetectionStrategy, Component, computed, inject } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatButtonToggle, MatButtonToggleGroup } from '@angular/material/button-toggle';
import { MatProgressBar } from '@angular/material/progress-bar';
import { DeviceStore } from './device.store';
import { TelemetryChart } from './telemetry-chart';
import { TELEMETRY_RANGES, TelemetryChartsStore } from './telemetry-charts.store';

interface ChartKeys {
  /** Keys whose latest value is a number: one chart each. */
  numeric: string[];
  /** Strings and booleans. */
  other: string[];
}

const sameKeys = (a: ChartKeys | null, b: ChartKeys | null) =>
  a === b ||
  (a !== null &&
    b !== null &&
    a.numeric.join('\n') === b.numeric.join('\n') &&
    a.other.join('\n') === b.other.join('\n'));

/** The charts section of the device page: a range selector and a live chart per numeric key. */
@Component({
  selector: 'iot-telemetry-charts',
  imports: [MatButton, MatButtonToggleGroup, MatButtonToggle, MatProgressBar, TelemetryChart],
  changeDetection: ChangeDetectionStrategy.OnPush,
  styleUrl: './telemetry-charts.scss',
  template: `
    <section aria-labelledby="charts-title">
      <div class="charts-head">
        <h2 id="charts-title" class="charts-title">Charts</h2>
        <div class="range">
          <span id="range-label" class="range-label">Time range</span>
          <mat-button-toggle-group
            aria-labelledby="range-label"
            hideSingleSelectionIndicator
            [value]="store.range().id"
            (change)="store.setRange($event.value)"
          >
            @for (range of ranges; track range.id) {
              <mat-button-toggle [value]="range.id">{{ range.label }}</mat-button-toggle>
            }
          </mat-button-toggle-group>
        </div>
      </div>
      <div class="progress-slot">
        @if (store.loading()) {
          <mat-progress-bar mode="indeterminate" aria-label="Loading telemetry history" />
        }
      </div>
      @if (store.error(); as error) {
        <div class="banner error" role="alert">
          <span>Could not load the history: {{ error }}</span>
          <button mat-button type="button" (click)="store.reload()">Retry</button>
        </div>
      }
      @if (keys(); as keys) {
        @if (keys.numeric.length > 0) {
          <ul class="chart-grid">
            @for (key of keys.numeric; track key) {
              <li><iot-telemetry-chart [key]="key" /></li>
            }
          </ul>
        } @else if (keys.other.length === 0) {
          <p class="muted">No telemetry yet: a chart appears for each key the device reports as a number.</p>
        }
        @if (keys.other.length > 0) {
          <p class="muted small not-chartable">
            Not chartable (not numbers): <span class="mono">{{ keys.other.join(', ') }}</span>
          </p>
        }
      }
    </section>
  `,
})
export class TelemetryCharts {
  protected readonly store = inject(TelemetryChartsStore);
  private readonly device = inject(DeviceStore);

  protected readonly ranges = TELEMETRY_RANGES;
  /** Decided by each key's latest value; null until the latest values have loaded. */
  protected readonly keys = computed<ChartKeys | null>(
    () => {
      const latest = this.device.live()?.latest;
      if (!latest) return null;
      const keys = Object.keys(latest).sort();
      return {
        numeric: keys.filter((key) => typeof latest[key].value === 'number'),
        other: keys.filter((key) => typeof latest[key].value !== 'number'),
      };
    },
    { equal: sameKeys },
  );
}
