import { ChangeDetectionStrategy, Component, computed, inject, LOCALE_ID, signal } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatButtonToggle, MatButtonToggleGroup } from '@angular/material/button-toggle';
import { MatProgressBar } from '@angular/material/progress-bar';
import type { TelemetrySpec } from '@iot/protocol';
import { SAVE_FILE } from '../core/browser';
import { Clock } from '../core/time/clock';
import { DeviceModelStore } from './device-model.store';
import { DeviceStore } from './device.store';
import { TelemetryChart } from './telemetry-chart';
import { chartKind, TELEMETRY_RANGES, TelemetryChartsStore } from './telemetry-charts.store';
import { telemetryCsv } from './telemetry-csv';

interface ChartedKey {
  key: string;
  spec: TelemetrySpec | undefined;
  kind: 'line' | 'step';
}

interface ChartKeys {
  /** One chart each: numbers (and, by the device's model, booleans and enums). */
  charted: ChartedKey[];
  /** What is not charted: strings, and (without a model) booleans. */
  other: string[];
}

const sameKeys = (a: ChartKeys | null, b: ChartKeys | null) =>
  a === b ||
  (a !== null &&
    b !== null &&
    a.charted.length === b.charted.length &&
    a.charted.every(
      (k, i) => k.key === b.charted[i].key && k.spec === b.charted[i].spec && k.kind === b.charted[i].kind,
    ) &&
    a.other.join('\n') === b.other.join('\n'));

/** `2026-01-02T03:04` in local time, as a datetime-local input takes it. */
function localInput(ts: number): string {
  const d = new Date(ts);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/**
 * The charts section of the device page: a range selector (presets that
 * follow now, or a custom fixed range, typed in or dragged on a chart), a
 * chart per charted key, and the history shown as CSV.
 */
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
          <button mat-stroked-button type="button" [attr.aria-expanded]="customOpen()" (click)="toggleCustom()">
            Custom range
          </button>
          <button mat-stroked-button type="button" (click)="exportCsv()" [disabled]="!keys()?.charted?.length">
            Export CSV
          </button>
        </div>
      </div>
      @if (customOpen()) {
        <form class="custom-form" novalidate (submit)="applyCustom($event)" aria-label="Custom time range">
          <label>
            From
            <input type="datetime-local" [value]="fromText()" (input)="fromText.set($any($event.target).value)" />
          </label>
          <label>
            To
            <input type="datetime-local" [value]="toText()" (input)="toText.set($any($event.target).value)" />
          </label>
          <button mat-flat-button type="submit">Show</button>
          @if (customError(); as error) {
            <span class="error-text" role="alert">{{ error }}</span>
          }
        </form>
      }
      @if (store.range().id === 'custom') {
        <p class="custom-note" role="status">
          Showing {{ store.range().description }}.
          <button mat-button type="button" (click)="store.setRange('live')">Back to live</button>
        </p>
      } @else {
        <p class="muted small hint">Drag across a chart to zoom in.</p>
      }
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
        @if (keys.charted.length > 0) {
          <ul class="chart-grid">
            @for (item of keys.charted; track item.key) {
              <li><iot-telemetry-chart [key]="item.key" [spec]="item.spec" [kind]="item.kind" /></li>
            }
          </ul>
        } @else if (keys.other.length === 0) {
          <p class="muted">No telemetry yet: a chart appears for each key the device reports as a number.</p>
        }
        @if (keys.other.length > 0) {
          <p class="muted small not-chartable">
            Not charted: <span class="mono">{{ keys.other.join(', ') }}</span>
          </p>
        }
      }
    </section>
  `,
})
export class TelemetryCharts {
  protected readonly store = inject(TelemetryChartsStore);
  private readonly device = inject(DeviceStore);
  private readonly model = inject(DeviceModelStore);
  private readonly clock = inject(Clock);
  private readonly saveFile = inject(SAVE_FILE);
  private readonly locale = inject(LOCALE_ID);

  protected readonly ranges = TELEMETRY_RANGES;
  protected readonly customOpen = signal(false);
  protected readonly fromText = signal('');
  protected readonly toText = signal('');
  protected readonly customError = signal<string | null>(null);

  /** Decided by each key's spec in the model, else by its latest value; null until the latest values have loaded. */
  protected readonly keys = computed<ChartKeys | null>(
    () => {
      const latest = this.device.live()?.latest;
      if (!latest) return null;
      this.model.model();
      const charted: ChartedKey[] = [];
      const other: string[] = [];
      for (const key of Object.keys(latest).sort()) {
        const spec = this.model.telemetry(key);
        const kind = chartKind(spec, latest[key].value);
        if (kind === 'none') other.push(key);
        else charted.push({ key, spec, kind });
      }
      return { charted, other };
    },
    { equal: sameKeys },
  );

  protected toggleCustom(): void {
    if (!this.customOpen()) {
      // Start from what is shown.
      const range = this.store.range();
      const end = range.end ?? this.clock.now();
      this.fromText.set(localInput(end - range.spanMs));
      this.toText.set(localInput(end));
      this.customError.set(null);
    }
    this.customOpen.update((open) => !open);
  }

  protected applyCustom(event: Event): void {
    event.preventDefault();
    const from = new Date(this.fromText()).getTime();
    const to = new Date(this.toText()).getTime();
    if (!this.store.setCustom(from, to)) {
      this.customError.set('Give a start before the end, from 10 seconds to a year apart.');
      return;
    }
    this.customError.set(null);
    this.customOpen.set(false);
  }

  /** The points of every chart, as shown, in one CSV file. */
  protected exportCsv(): void {
    const keys = this.keys()?.charted ?? [];
    const now = this.clock.now();
    const averaged = this.store.range().bucketMs > 0;
    const csv = telemetryCsv(
      keys.map(({ key, spec }) => ({ key, spec, points: this.store.points(key, now), averaged })),
    );
    const id = this.store.deviceId() ?? 'device';
    const stamp = new Date(now).toISOString().slice(0, 19).replace(/:/g, '-');
    this.saveFile(`${id}-telemetry-${stamp}.csv`, 'text/csv;charset=utf-8', csv);
  }
}
