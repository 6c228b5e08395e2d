import type { TelemetryValue, TelemetryValues } from '@iot/protocol';

/** What a chart covers: a window ending now. */
export interface SeriesWindow {
  /** How far back from now, in ms. */
  spanMs: number;
  /**
   * 0: every raw point. Otherwise points are averaged into buckets this wide,
   * aligned to the epoch like the api's `bucket`, each labelled by its start.
   */
  bucketMs: number;
}

/**
 * The history requests for a window: raw points from `rawFrom` on, with no
 * end (so everything stored by the time the api answers is included), and for
 * a bucketed window the api's averages of the closed buckets before that.
 * The two meet exactly at `rawFrom`, a bucket edge: nothing is missed and
 * nothing counted twice.
 */
export interface HistoryPlan {
  rawFrom: number;
  buckets?: { from: number; to: number; bucketMs: number };
}

/** One history load, as the api answered the plan. Pairs whose value is not a number are skipped. */
export interface SeriesHistory {
  /** Raw `[ts, value]` pairs per key, in any order; in a bucketed window all at or after `rawFrom`. */
  raw: Record<string, ReadonlyArray<readonly [number, TelemetryValue]>>;
  /** Bucketed windows: the api's bucket averages per key, every bucket before `rawFrom`. */
  buckets?: Record<string, ReadonlyArray<readonly [number, TelemetryValue]>>;
  /** Bucketed windows: the plan's `rawFrom`. */
  rawFrom?: number;
}

/** One key's points in the window, oldest first, as two columns (the shape uPlot takes). */
export interface SeriesView {
  ts: number[];
  values: number[];
}

/** What a screen reader is told about a chart. */
export interface SeriesSummary {
  latest: { ts: number; value: number } | null;
  min: number | null;
  max: number | null;
  count: number;
}

type Point = [ts: number, value: number];

interface KeyData {
  /** Closed buckets `[start, average]`, ascending, all before `rawFrom`. */
  buckets: Point[];
  /** Raw points, ascending, one per `ts`. */
  raw: Point[];
}

interface LiveEntry {
  ts: number;
  values: TelemetryValues;
}

/** The requests that load `window` at `now` without a gap to the live stream. */
export function planHistory(window: SeriesWindow, now: number): HistoryPlan {
  const { spanMs, bucketMs } = window;
  if (bucketMs <= 0) return { rawFrom: now - spanMs };
  // The bucket `now` falls in is still filling: it is built here from raw
  // points (history, then live), so it can go on growing without a reload.
  const open = Math.floor(now / bucketMs) * bucketMs;
  return { rawFrom: open, buckets: { from: Math.floor((now - spanMs) / bucketMs) * bucketMs, to: open, bucketMs } };
}

/** The newest value, the smallest and the largest of a view. */
export function summarize(view: SeriesView): SeriesSummary {
  const count = view.ts.length;
  if (count === 0) return { latest: null, min: null, max: null, count };
  return {
    latest: { ts: view.ts[count - 1], value: view.values[count - 1] },
    min: Math.min(...view.values),
    max: Math.max(...view.values),
    count,
  };
}

/** The index of the first point at or after `ts` (points ascending). */
function lowerBound(points: readonly Point[], ts: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid][0] < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Ascending raw points averaged per bucket of `bucketMs`, each labelled by its start. */
function average(points: readonly Point[], bucketMs: number): Point[] {
  const out: Point[] = [];
  let start = Number.NaN;
  let sum = 0;
  let count = 0;
  for (const [ts, value] of points) {
    const bucket = Math.floor(ts / bucketMs) * bucketMs;
    if (bucket !== start) {
      if (count > 0) out.push([start, sum / count]);
      start = bucket;
      sum = 0;
      count = 0;
    }
    sum += value;
    count += 1;
  }
  if (count > 0) out.push([start, sum / count]);
  return out;
}

/**
 * The points of one device's charts: history joined to the live stream with
 * no gap, kept sorted and one point per timestamp, and trimmed to the window
 * as time goes on. Framework-free: the store feeds it, the charts read it.
 *
 * The join: `beginLoad()` before the history request goes out; live entries
 * from then on are applied at once (the chart stays live) and also kept
 * aside. `completeLoad()` merges the history over what is held, then replays
 * the kept entries over it, so an entry that arrived during the request wins
 * over the history's value for the same timestamp, and one the history
 * already holds is not doubled. Points held from before the load stay: the
 * platform publishes an entry only once it is stored, so the history holds
 * them too, and keeping them cannot open a gap.
 *
 * In a bucketed window, history before `rawFrom` comes as the api's bucket
 * averages and replaces any held buckets; from `rawFrom` on points are raw
 * and averaged here. Raw points of closed buckets are folded into averages
 * (one closed bucket is kept raw a little longer for stragglers), and an
 * entry older than that is left for the next load: an average cannot take
 * one more point without its count.
 */
export class TelemetrySeries {
  private current: SeriesWindow;
  private readonly data = new Map<string, KeyData>();
  /** Bucketed windows: points before this are held as buckets only. */
  private rawFrom = Number.NEGATIVE_INFINITY;
  /** Live entries since `beginLoad()`; null when no load is in flight. */
  private buffer: LiveEntry[] | null = null;

  constructor(window: SeriesWindow) {
    this.current = window;
  }

  get window(): SeriesWindow {
    return this.current;
  }

  /** Whether a history load is in flight. */
  get loading(): boolean {
    return this.buffer !== null;
  }

  /**
   * Shows another window. Raw points are kept (they are shown again as far as
   * the new window reaches, until its history arrives); buckets are kept only
   * if they have the same width.
   */
  setWindow(window: SeriesWindow): void {
    if (window.bucketMs !== this.current.bucketMs) {
      for (const data of this.data.values()) data.buckets = [];
      this.rawFrom = Number.NEGATIVE_INFINITY;
    }
    this.current = window;
  }

  /** A history request is about to go out: from now on live entries are also kept for `completeLoad()`. */
  beginLoad(): void {
    this.buffer = [];
  }

  /** The history for the current window arrived (see the class comment for the join). */
  completeLoad(history: SeriesHistory, now: number): void {
    const buffered = this.buffer ?? [];
    this.buffer = null;
    const bucketed = this.current.bucketMs > 0;
    this.rawFrom = bucketed ? (history.rawFrom ?? Number.NEGATIVE_INFINITY) : Number.NEGATIVE_INFINITY;
    for (const data of this.data.values()) {
      data.buckets = [];
      // Held raw points now covered by the api's buckets would be counted twice.
      data.raw = data.raw.slice(lowerBound(data.raw, this.rawFrom));
    }
    if (bucketed) {
      for (const [key, pairs] of Object.entries(history.buckets ?? {})) {
        this.keyData(key).buckets = numeric(pairs)
          .filter(([ts]) => ts < this.rawFrom)
          .sort((a, b) => a[0] - b[0]);
      }
    }
    for (const [key, pairs] of Object.entries(history.raw)) {
      for (const [ts, value] of numeric(pairs)) {
        if (ts >= this.rawFrom) this.put(key, ts, value);
      }
    }
    for (const entry of buffered) this.apply(entry);
    this.trim(now);
  }

  /** The history request failed: stop keeping entries aside; what is held stays shown. */
  failLoad(): void {
    this.buffer = null;
  }

  /**
   * One live telemetry entry (values that are not numbers are skipped).
   * Returns whether any shown point changed.
   */
  add(ts: number, values: TelemetryValues, now: number): boolean {
    this.buffer?.push({ ts, values });
    const changed = this.apply({ ts, values });
    this.trim(now);
    return changed;
  }

  /** Drops what has left the window and, in a bucketed window, folds closed buckets. */
  trim(now: number): void {
    const { spanMs, bucketMs } = this.current;
    const start = now - spanMs;
    if (bucketMs > 0 && !this.loading) this.fold(now);
    for (const data of this.data.values()) {
      const rawStart = lowerBound(data.raw, start);
      if (rawStart > 0) data.raw.splice(0, rawStart);
      const bucketStart = lowerBound(data.buckets, start - bucketMs + 1);
      if (bucketStart > 0) data.buckets.splice(0, bucketStart);
    }
  }

  /** Every key that has held a numeric point. */
  keys(): string[] {
    return [...this.data.keys()].sort();
  }

  /** One key's points within the window at `now`, oldest first. */
  view(key: string, now: number): SeriesView {
    const data = this.data.get(key);
    if (!data) return { ts: [], values: [] };
    const { spanMs, bucketMs } = this.current;
    const start = now - spanMs;
    let points: Point[];
    if (bucketMs > 0) {
      // A bucket is shown while any of it is in the window.
      const all = [...data.buckets, ...average(data.raw, bucketMs)];
      points = all.slice(lowerBound(all, start - bucketMs + 1));
    } else {
      points = data.raw.slice(lowerBound(data.raw, start));
    }
    return { ts: points.map((p) => p[0]), values: points.map((p) => p[1]) };
  }

  private keyData(key: string): KeyData {
    let data = this.data.get(key);
    if (!data) {
      data = { buckets: [], raw: [] };
      this.data.set(key, data);
    }
    return data;
  }

  private apply({ ts, values }: LiveEntry): boolean {
    if (ts < this.rawFrom) return false; // its bucket is closed: the next load has it
    let changed = false;
    for (const [key, value] of Object.entries(values)) {
      if (typeof value === 'number') changed = this.put(key, ts, value) || changed;
    }
    return changed;
  }

  /** Inserts in order; the same `ts` again replaces the value (the later entry wins). */
  private put(key: string, ts: number, value: number): boolean {
    const raw = this.keyData(key).raw;
    const last = raw[raw.length - 1];
    if (!last || last[0] < ts) {
      raw.push([ts, value]); // the usual case: newer than everything held
      return true;
    }
    const at = lowerBound(raw, ts);
    if (raw[at]?.[0] === ts) {
      if (raw[at][1] === value) return false;
      raw[at] = [ts, value];
      return true;
    }
    raw.splice(at, 0, [ts, value]);
    return true;
  }

  private fold(now: number): void {
    const { bucketMs } = this.current;
    const foldTo = Math.floor(now / bucketMs) * bucketMs - bucketMs;
    if (foldTo <= this.rawFrom) return;
    for (const data of this.data.values()) {
      const end = lowerBound(data.raw, foldTo);
      if (end === 0) continue;
      data.buckets.push(...average(data.raw.slice(0, end), bucketMs));
      data.raw.splice(0, end);
    }
    this.rawFrom = foldTo;
  }
}

function numeric(pairs: ReadonlyArray<readonly [number, TelemetryValue]>): Point[] {
  const out: Point[] = [];
  for (const [ts, value] of pairs) {
    if (typeof value === 'number' && Number.isFinite(value)) out.push([ts, value]);
  }
  return out;
}
