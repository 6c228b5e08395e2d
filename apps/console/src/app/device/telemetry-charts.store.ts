import { DestroyRef, inject, Injectable, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import type { DeviceModel, TelemetrySpec } from '@iot/protocol';
import { forkJoin, of, type Subscription } from 'rxjs';
import { describeHttpError } from '../core/http-error';
import { StreamService } from '../core/stream/stream.service';
import { TelemetryApi } from '../core/telemetry/telemetry-api';
import { formatTimestamp } from '../ui/format';
import {
  numbersOnly,
  planHistory,
  type SeriesEncoder,
  type SeriesView,
  type SeriesWindow,
  TelemetrySeries,
} from './telemetry-series';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export type TelemetryRangeId = 'live' | '15m' | '1h' | '24h' | '7d' | 'custom';

/** A choice of the range selector: a window ending now, kept moving by the stream; or a custom, fixed one. */
export interface TelemetryRange extends SeriesWindow {
  id: TelemetryRangeId;
  /** On the toggle. */
  label: string;
  /** For screen readers: "temperature over …". */
  description: string;
}

/**
 * Short ranges are raw points; long ones are averages per bucket, from the
 * api's per-minute rollups (a 5-minute bucket over a day is 288 points).
 */
export const TELEMETRY_RANGES: readonly TelemetryRange[] = [
  { id: 'live', label: 'Live', description: 'the last 5 minutes', spanMs: 5 * MINUTE, bucketMs: 0 },
  { id: '15m', label: '15 min', description: 'the last 15 minutes', spanMs: 15 * MINUTE, bucketMs: 0 },
  { id: '1h', label: '1 h', description: 'the last hour', spanMs: HOUR, bucketMs: 0 },
  {
    id: '24h',
    label: '24 h',
    description: 'the last 24 hours, in 5-minute averages',
    spanMs: DAY,
    bucketMs: 5 * MINUTE,
  },
  {
    id: '7d',
    label: '7 d',
    description: 'the last 7 days, in 30-minute averages',
    spanMs: 7 * DAY,
    bucketMs: 30 * MINUTE,
  },
];

/** A custom range at most this wide is raw points; a wider one the api's averages. */
export const CUSTOM_RAW_MAX_MS = HOUR;
/** The narrowest custom range (a zoom stops here). */
export const CUSTOM_MIN_MS = 10_000;
/** The widest custom range: the api keeps a year at most anyway. */
export const CUSTOM_MAX_MS = 366 * DAY;
/** Bucket widths a wide custom range picks from: the first giving at most ~300 points. */
const CUSTOM_BUCKETS = [MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY];

/** A fixed window from `from` to `to` (epoch ms), bucketed when wide; null when they make no range. */
export function customRange(from: number, to: number, locale = 'en-US'): TelemetryRange | null {
  if (!Number.isFinite(from) || !Number.isFinite(to) || to - from < CUSTOM_MIN_MS || to - from > CUSTOM_MAX_MS)
    return null;
  const spanMs = to - from;
  const bucketMs = spanMs <= CUSTOM_RAW_MAX_MS ? 0 : (CUSTOM_BUCKETS.find((b) => spanMs / b <= 300) ?? DAY);
  const span = `${formatTimestamp(from, locale)} to ${formatTimestamp(to, locale)}`;
  return {
    id: 'custom',
    label: 'Custom',
    description: bucketMs > 0 ? `${span}, in averages` : span,
    spanMs,
    bucketMs,
    end: to,
  };
}

/** What the chart draws of a key's values, by its spec in the device's model. */
export function chartKind(spec: TelemetrySpec | undefined, latest: unknown): 'line' | 'step' | 'none' {
  if (!spec) return typeof latest === 'number' ? 'line' : 'none';
  if (spec.chart) return spec.chart;
  if (spec.type === 'boolean' || spec.type === 'enum') return 'step';
  return spec.type === 'string' ? 'none' : 'line';
}

/** Booleans as 0 and 1, an enum value as its index, numbers as they are; nothing for what is not charted. */
export function modelEncoder(model: DeviceModel | null): SeriesEncoder {
  const specs = model?.telemetry;
  if (!specs) return numbersOnly;
  return (key, value) => {
    const spec = Object.prototype.hasOwnProperty.call(specs, key) ? specs[key] : undefined;
    if (!spec) return numbersOnly(key, value);
    if (chartKind(spec, value) === 'none') return null;
    switch (spec.type) {
      case 'boolean':
        return typeof value === 'boolean' ? Number(value) : null;
      case 'enum': {
        const index = typeof value === 'string' ? (spec.values ?? []).indexOf(value) : -1;
        return index >= 0 ? index : null;
      }
      case 'string':
        return null;
      default:
        return numbersOnly(key, value);
    }
  };
}

/**
 * Raw points per key per load. They are asked for newest first, so a device
 * chattier than this loses the start of the window, never the join to the stream.
 */
export const RAW_HISTORY_LIMIT = 10_000;

/**
 * One device's chart points: history for the chosen range over REST, joined
 * to the stream's `telemetry` events (the tab's one stream, which the device
 * page already listens to) by {@link TelemetrySeries}. A `reset` reloads the
 * history. Provided by the device page.
 */
@Injectable()
export class TelemetryChartsStore {
  private readonly api = inject(TelemetryApi);
  private readonly rangeState = signal<TelemetryRange>(TELEMETRY_RANGES[0]);
  private readonly loadingState = signal(false);
  private readonly errorState = signal<string | null>(null);
  private readonly revision = signal(0);
  private series = new TelemetrySeries(TELEMETRY_RANGES[0]);
  private encode: SeriesEncoder = numbersOnly;
  private load: Subscription | undefined;

  readonly range = this.rangeState.asReadonly();
  private readonly deviceIdState = signal<string | null>(null);
  /** The device shown. */
  readonly deviceId = this.deviceIdState.asReadonly();
  readonly loading = this.loadingState.asReadonly();
  readonly error = this.errorState.asReadonly();

  constructor() {
    inject(StreamService)
      .messages.pipe(takeUntilDestroyed())
      .subscribe((message) => {
        if (message.event === 'reset') {
          this.reload();
        } else if (message.event === 'telemetry' && message.data.deviceId === this.deviceId()) {
          if (this.series.add(message.data.ts, message.data.values, Date.now())) this.changed();
        }
      });
    inject(DestroyRef).onDestroy(() => this.load?.unsubscribe());
  }

  open(deviceId: string): void {
    if (deviceId !== this.deviceId()) {
      this.series = new TelemetrySeries(this.rangeState());
      this.series.encode = this.encode;
      this.changed();
    }
    this.deviceIdState.set(deviceId);
    this.reload();
  }

  /** Charts by the device's model (booleans and enums as steps); numbers only without one. */
  setModel(model: DeviceModel | null): void {
    this.encode = modelEncoder(model);
    this.series.encode = this.encode;
    this.changed();
  }

  /** Shows another range: what is held stays shown as far as it reaches while its history loads. */
  setRange(id: TelemetryRangeId): void {
    const range = TELEMETRY_RANGES.find((r) => r.id === id);
    if (range && range !== this.rangeState()) this.show(range);
  }

  /** Shows a fixed range (typed in, or dragged on a chart); false when it is not a range. */
  setCustom(from: number, to: number): boolean {
    const range = customRange(Math.round(from), Math.round(to));
    if (range) this.show(range);
    return range !== null;
  }

  /** One key's points as shown (gaps left out), for export. */
  points(key: string, now: number): Array<[number, number]> {
    this.revision();
    return this.series.points(key, now);
  }

  private show(range: TelemetryRange): void {
    this.rangeState.set(range);
    this.series.setWindow(range);
    this.changed();
    this.reload();
  }

  /** One key's points in the current range at `now`; a signal read, so views follow new points. */
  view(key: string, now: number): SeriesView {
    this.revision();
    return this.series.view(key, now);
  }

  reload(): void {
    const deviceId = this.deviceId();
    if (!deviceId) return;
    this.load?.unsubscribe();
    const series = this.series;
    const plan = planHistory(this.rangeState(), Date.now());
    // Every key (`keys` empty): a key first reported later needs no second request, and
    // string keys come back empty from aggregates and are skipped from raw answers.
    const raw =
      plan.rawTo !== undefined && plan.rawTo <= plan.rawFrom
        ? of({ series: {} })
        : this.api.history(deviceId, {
            keys: [],
            from: plan.rawFrom,
            ...(plan.rawTo !== undefined ? { to: plan.rawTo } : {}),
            order: 'desc',
            limit: RAW_HISTORY_LIMIT,
          });
    const buckets = plan.buckets
      ? this.api.history(deviceId, {
          keys: [],
          from: plan.buckets.from,
          to: plan.buckets.to,
          bucketMs: plan.buckets.bucketMs,
          agg: 'avg',
        })
      : of(null);
    series.beginLoad();
    this.loadingState.set(true);
    this.load = forkJoin({ raw, buckets }).subscribe({
      next: (answer) => {
        series.completeLoad(
          { raw: answer.raw.series, buckets: answer.buckets?.series, rawFrom: plan.rawFrom },
          Date.now(),
        );
        this.errorState.set(null);
        this.loadingState.set(false);
        this.changed();
      },
      error: (error: unknown) => {
        series.failLoad();
        this.errorState.set(describeHttpError(error));
        this.loadingState.set(false);
      },
    });
  }

  private changed(): void {
    this.revision.update((n) => n + 1);
  }
}
