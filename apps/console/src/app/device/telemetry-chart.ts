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
import type { TelemetrySpec } from '@iot/protocol';
import uPlot from 'uplot';
import { WINDOW } from '../core/browser';
import { Clock } from '../core/time/clock';
import { formatMeasurement, formatTimestamp } from '../ui/format';
import { MeasurementPipe } from '../ui/format.pipes';
import { TelemetryChartsStore } from './telemetry-charts.store';
import { decodeValue } from './telemetry-csv';
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
/** A drag narrower than this is a click, not a zoom. */
const MIN_ZOOM_PX = 8;

interface Palette {
  line: string;
  axis: string;
  grid: string;
}

let nextId = 0;

/**
 * One key's chart: a uPlot line (or steps, for on/off and modes) over the
 * store's points for the chosen range, its x axis moving with the clock (or
 * fixed, for a custom range), broken where the data has gaps; a drag across
 * it zooms to a custom range. Title, unit and precision come from the
 * device's model. uPlot needs an explicit width, so a ResizeObserver follows
 * the container's. The canvas is hidden from screen readers behind
 * `role="img"`, described by a text summary.
 */
@Component({
  selector: 'iot-telemetry-chart',
  imports: [MeasurementPipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  styleUrl: './telemetry-charts.scss',
  template: `
    <figure class="chart">
      <figcaption class="chart-head">
        <span class="chart-key" [class.mono]="!spec()?.title" [attr.title]="key()">{{ title() }}</span>
        @if (summary().latest; as latest) {
          <span class="chart-latest mono" aria-hidden="true">{{ decode(latest.value) | measurement: spec() }}</span>
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
  /** The key's spec in the device's model, if it has one. */
  readonly spec = input<TelemetrySpec | undefined>(undefined);
  readonly kind = input<'line' | 'step'>('line');

  private readonly store = inject(TelemetryChartsStore);
  private readonly clock = inject(Clock);
  private readonly locale = inject(LOCALE_ID);
  private readonly window = inject(WINDOW);
  private readonly plot = viewChild.required<ElementRef<HTMLElement>>('plot');
  private chart: uPlot | null = null;
  private palette: Palette = { line: '#1a73e8', axis: '#5f6368', grid: 'rgba(128, 128, 128, 0.25)' };

  protected readonly summaryId = `iot-chart-summary-${nextId++}`;
  protected readonly view = computed(() => this.store.view(this.key(), this.clock.now()));
  /** The x range: the window ending now (or at a point a device clock put a little ahead), or a fixed one. */
  private readonly xRange = computed(() => {
    const range = this.store.range();
    if (range.end !== undefined) return { min: range.end - range.spanMs, max: range.end };
    const now = this.clock.now();
    const ts = this.view().ts;
    const max = Math.max(now, ts[ts.length - 1] ?? now);
    return { min: now - range.spanMs, max };
  });
  private readonly bucketed = computed(() => this.store.range().bucketMs > 0);
  /** The model's title, with the unit: "Temperature (°C)". */
  protected readonly title = computed(() => {
    const spec = this.spec();
    const title = spec?.title ?? this.key();
    return spec?.unit ? `${title} (${spec.unit})` : title;
  });
  protected readonly summary = computed(() => summarize(this.view()));
  protected readonly label = computed(() => `Chart of ${this.title()} over ${this.store.range().description}`);
  protected readonly summaryText = computed(() => {
    const { latest, min, max, count } = this.summary();
    if (!latest || min === null || max === null) return 'No points in this range.';
    const n = (value: number) => this.format(value);
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

    // The model arrived (title, unit, steps) or the range changed between raw and averaged: draw it anew.
    effect(() => {
      this.spec();
      this.kind();
      this.bucketed();
      untracked(() => {
        if (this.chart) this.create();
      });
    });

    // New points, or only the clock moving on: either way the chart is redrawn
    // (the x scale's range function reads xRange()).
    effect(() => {
      const view = this.view();
      this.xRange();
      untracked(() => this.chart?.setData([view.ts, view.values]));
    });
  }

  /** A charted value back as sent (on/off, a mode), in bucketed ranges the average. */
  protected decode(value: number): string | number | boolean {
    return decodeValue(this.spec(), value, this.store.range().bucketMs > 0);
  }

  /** A value as text with the unit, and the model's precision unless `precise` is false. */
  private format(value: number, precise = true): string {
    const spec = this.spec();
    return formatMeasurement(
      this.decode(value),
      precise || !spec ? spec : { ...spec, precision: undefined },
      this.locale,
    );
  }

  /** The y axis of steps: on/off, or an enum's values, at their whole positions only. */
  private stepAxis(): Pick<uPlot.Axis, 'splits' | 'values'> | null {
    const spec = this.spec();
    const names = spec?.type === 'boolean' ? ['off', 'on'] : spec?.type === 'enum' ? (spec.values ?? []) : null;
    if (!names || this.store.range().bucketMs > 0) return null;
    return {
      splits: () => names.map((_name, i) => i),
      values: (_u, splits) => splits.map((v) => names[v] ?? ''),
    };
  }

  private create(): void {
    this.chart?.destroy();
    const element = this.plot().nativeElement;
    this.palette = this.readPalette(element) ?? this.palette;
    const { line, axis, grid } = this.palette;
    const format = (value: number | null) => (value === null ? '--' : this.format(value));
    const step = this.kind() === 'step';
    const stepAxis = step ? this.stepAxis() : null;
    const yRange = stepAxis
      ? {
          range: (): uPlot.Range.MinMax => [
            -0.1,
            (this.spec()?.type === 'enum' ? (this.spec()?.values?.length ?? 1) - 1 : 1) + 0.1,
          ],
        }
      : {};
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
          y: yRange,
        },
        // A drag selects a span, which becomes a custom range (the store's, so every chart follows).
        cursor: { drag: { x: true, y: false, setScale: false } },
        hooks: {
          setSelect: [
            (u) => {
              const { left, width } = u.select;
              if (width >= MIN_ZOOM_PX) this.store.setCustom(u.posToVal(left, 'x'), u.posToVal(left + width, 'x'));
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            },
          ],
        },
        legend: { show: true, live: true },
        series: [
          {},
          {
            label: this.title(),
            stroke: line,
            width: 2,
            fill: `${line}1f`,
            spanGaps: false,
            ...(step && uPlot.paths?.stepped ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}),
            value: (_u, value) => format(value),
          },
        ],
        axes: [
          axisStyle,
          // Ticks keep the usual precision: the model's (for readings) could print two ticks alike.
          {
            ...axisStyle,
            size: 64,
            values: (_u, splits) => splits.map((v) => this.format(v, false)),
            ...(stepAxis ?? {}),
          },
        ],
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
