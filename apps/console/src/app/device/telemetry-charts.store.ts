import { DestroyRef, inject, Injectable, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { forkJoin, of, type Subscription } from 'rxjs';
import { describeHttpError } from '../core/http-error';
import { StreamService } from '../core/stream/stream.service';
import { TelemetryApi } from '../core/telemetry/telemetry-api';
import { planHistory, type SeriesView, type SeriesWindow, TelemetrySeries } from './telemetry-series';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export type TelemetryRangeId = 'live' | '15m' | '1h' | '24h' | '7d';

/** A choice of the range selector: a window ending now, kept moving by the stream. */
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
  private deviceId: string | null = null;
  private load: Subscription | undefined;

  readonly range = this.rangeState.asReadonly();
  readonly loading = this.loadingState.asReadonly();
  readonly error = this.errorState.asReadonly();

  constructor() {
    inject(StreamService)
      .messages.pipe(takeUntilDestroyed())
      .subscribe((message) => {
        if (message.event === 'reset') {
          this.reload();
        } else if (message.event === 'telemetry' && message.data.deviceId === this.deviceId) {
          if (this.series.add(message.data.ts, message.data.values, Date.now())) this.changed();
        }
      });
    inject(DestroyRef).onDestroy(() => this.load?.unsubscribe());
  }

  open(deviceId: string): void {
    if (deviceId !== this.deviceId) {
      this.series = new TelemetrySeries(this.rangeState());
      this.changed();
    }
    this.deviceId = deviceId;
    this.reload();
  }

  /** Shows another range: what is held stays shown as far as it reaches while its history loads. */
  setRange(id: TelemetryRangeId): void {
    const range = TELEMETRY_RANGES.find((r) => r.id === id);
    if (!range || range === this.rangeState()) return;
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
    const deviceId = this.deviceId;
    if (!deviceId) return;
    this.load?.unsubscribe();
    const series = this.series;
    const plan = planHistory(this.rangeState(), Date.now());
    // Every key (`keys` empty): a key first reported later needs no second request, and
    // string keys come back empty from aggregates and are skipped from raw answers.
    const raw = this.api.history(deviceId, { keys: [], from: plan.rawFrom, order: 'desc', limit: RAW_HISTORY_LIMIT });
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
