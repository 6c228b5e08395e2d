import {
  afterNextRender,
  ChangeDetectionStrategy,
  Component,
  computed,
  DestroyRef,
  effect,
  type ElementRef,
  inject,
  InjectionToken,
  input,
  LOCALE_ID,
  untracked,
  viewChild,
} from '@angular/core';
import uPlot from 'uplot';
import { WINDOW } from '../core/browser';
import { Clock } from '../core/time/clock';
import { formatNumber, formatTimestamp } from '../ui/format';
import { TelemetryValuePipe } from '../ui/format.pipes';
import { TelemetryChartsStore } from './telemetry-charts.store';
import { summarize } from './telemetry-series';

/** The part of ResizeObserver a chart uses. */
export interface ResizeObserverLike {
  observe(target: Element): void;
  disconnect(): void;
}

/** Makes the observer that follows a chart's width; null where there is none (jsdom). A token so specs can drive it. */
export const RESIZE_OBSERVER_FACTORY = new InjectionToken<
  (onResize: (width: number) => void) => ResizeObserverLike | null
>('RESIZE_OBSERVER_FACTORY', {
  providedIn: 'root',
  factory: () => (onResize) =>
    typeof ResizeObserver === 'undefined'
      ? null
      : new ResizeObserver((entries) => {
          const entry = entries[entries.length - 1];
          if (entry) onResize(entry.contentRect.width);
        }),
});

/** Plot and axes, in CSS pixels; the legend adds its own line below. */
export const CHART_HEIGHT = 160;
/** Until the first measurement (or where nothing measures). */
const FALLBACK_WIDTH = 320;

interface Palette {
  line: string;
  axis: string;
  grid: string;
}

let nextId = 0;

/**
 * One key's chart: a uPlot line over the store's points for the chosen range,
 * its x axis moving with the clock. uPlot needs an explicit width, so a
 * ResizeObserver follows the container's. The canvas is hidden from screen
 * readers behind `role="img"`, described by a text summary.
 */
@Component({
  selector: 'iot-telemetry-chart',
  imports: [TelemetryValuePipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  styleUrl: './telemetry-charts.scss',
  template: `
    <figure class="chart">
      <figcaption class="chart-head">
        <span class="chart-key mono">{{ key() }}</span>
        @if (summary().latest; as latest) {
          <span class="chart-latest mono" aria-hidden="true">{{ latest.value | telemetryValue }}</span>
        }
      </figcaption>
      <div class="plot-area">
        <div #plot class="plot" role="img" [attr.aria-label]="label()" [attr.aria-describedby]="summaryId"></div>
        @if (summary().count === 0) {
          <p class="empty" aria-hidden="true">No points in this range.</p>
        }
      </div>
      <p class="cdk-visually-hidden" [id]="summaryId">{{ summaryText() }}</p>
    </figure>
  `,
})
export class TelemetryChart {
  readonly key = input.required<string>();

  private readonly store = inject(TelemetryChartsStore);
  private readonly clock = inject(Clock);
  private readonly locale = inject(LOCALE_ID);
  private readonly window = inject(WINDOW);
  private readonly plot = viewChild.required<ElementRef<HTMLElement>>('plot');
  private chart: uPlot | null = null;
  private palette: Palette = { line: '#1a73e8', axis: '#5f6368', grid: 'rgba(128, 128, 128, 0.25)' };

  protected readonly summaryId = `iot-chart-summary-${nextId++}`;
  protected readonly view = computed(() => this.store.view(this.key(), this.clock.now()));
  /** The x range: the window ending now (or at a point a device clock put a little ahead). */
  private readonly xRange = computed(() => {
    const now = this.clock.now();
    const ts = this.view().ts;
    const max = Math.max(now, ts[ts.length - 1] ?? now);
    return { min: now - this.store.range().spanMs, max };
  });
  protected readonly summary = computed(() => summarize(this.view()));
  protected readonly label = computed(() => `Chart of ${this.key()} over ${this.store.range().description}`);
  protected readonly summaryText = computed(() => {
    const { latest, min, max, count } = this.summary();
    if (!latest || min === null || max === null) return 'No points in this range.';
    const n = (value: number) => formatNumber(value, this.locale);
    return (
      `Latest ${n(latest.value)} at ${formatTimestamp(latest.ts, this.locale)}. ` +
      `Lowest ${n(min)}, highest ${n(max)}, over ${count} ${count === 1 ? 'point' : 'points'}.`
    );
  });

  constructor() {
    const destroyRef = inject(DestroyRef);
    const observe = inject(RESIZE_OBSERVER_FACTORY);

    afterNextRender(() => {
      this.create();
      const observer = observe((width) => this.resize(width));
      observer?.observe(this.plot().nativeElement);
      // Light or dark follows the system: the canvas is drawn with the theme's colours, so redraw it.
      const scheme = this.window?.matchMedia?.('(prefers-color-scheme: dark)');
      const onScheme = () => this.create();
      scheme?.addEventListener('change', onScheme);
      destroyRef.onDestroy(() => {
        observer?.disconnect();
        scheme?.removeEventListener('change', onScheme);
      });
    });
    destroyRef.onDestroy(() => {
      this.chart?.destroy();
      this.chart = null;
    });

    // New points, or only the clock moving on: either way the chart is redrawn
    // (the x scale's range function reads xRange()).
    effect(() => {
      const view = this.view();
      this.xRange();
      untracked(() => this.chart?.setData([view.ts, view.values]));
    });
  }

  private create(): void {
    this.chart?.destroy();
    const element = this.plot().nativeElement;
    this.palette = this.readPalette(element) ?? this.palette;
    const { line, axis, grid } = this.palette;
    const format = (value: number | null) => (value === null ? '--' : formatNumber(value, this.locale));
    const axisStyle = { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    this.chart = new uPlot(
      {
        width: Math.floor(element.clientWidth) || FALLBACK_WIDTH,
        height: CHART_HEIGHT,
        ms: 1, // timestamps are epoch ms
        // The x range follows the clock: read on every redraw, not fixed here.
        scales: {
          x: {
            time: true,
            range: () => {
              const { min, max } = untracked(this.xRange);
              return [min, max];
            },
          },
        },
        // Zooming by drag would be undone by the next point: off.
        cursor: { drag: { x: false, y: false, setScale: false } },
        legend: { show: true, live: true },
        series: [
          {},
          { label: this.key(), stroke: line, width: 2, fill: `${line}1f`, value: (_u, value) => format(value) },
        ],
        axes: [axisStyle, { ...axisStyle, size: 56, values: (_u, splits) => splits.map((v) => format(v)) }],
      },
      [untracked(this.view).ts, untracked(this.view).values],
      element,
    );
  }

  private resize(width: number): void {
    const chart = this.chart;
    const w = Math.floor(width);
    if (chart && w > 0 && w !== chart.width) chart.setSize({ width: w, height: CHART_HEIGHT });
  }

  /**
   * The canvas cannot resolve CSS variables (nor light-dark()): the plot
   * element carries the theme's colours as CSS properties (telemetry-charts.scss),
   * which the browser resolves to rgb() for reading back here.
   */
  private readPalette(element: HTMLElement): Palette | null {
    const style = this.window?.getComputedStyle(element);
    const line = toHex(style?.caretColor);
    const axis = style?.color;
    const grid = style?.outlineColor;
    return line && axis && grid ? { line, axis, grid } : null;
  }
}

/** `rgb(26, 115, 232)` → `#1a73e8`, so an alpha can be appended for the fill. */
function toHex(color: string | undefined): string | null {
  const m = /^rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(color ?? '');
  if (!m) return null;
  return `#${[m[1], m[2], m[3]].map((c) => Number(c).toString(16).padStart(2, '0')).join('')}`;
}
