import type { TelemetryValue, TelemetryValues } from '@iot/protocol';

/** What a chart covers: a window ending now, or (with `end`) a fixed one. */
export interface SeriesWindow {
  /** How far back from now (or from `end`), in ms. */
  spanMs: number;
  /** A fixed window ends here (epoch ms) and does not move; live entries after it are left out. */
  end?: number;
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
  /** A fixed window: raw points up to here only (none when it is `rawFrom`). */
  rawTo?: number;
  buckets?: { from: number; to: number; bucketMs: number };
}

/** One history load, as the api answered the plan. */
export interface SeriesHistory {
  /** Raw `[ts, value]` pairs per key, in any order; in a bucketed window all at or after `rawFrom`. */
  raw: Record<string, ReadonlyArray<readonly [number, TelemetryValue]>>;
  /** Bucketed windows: the api's bucket averages per key, every bucket before `rawFrom`. */
  buckets?: Record<string, ReadonlyArray<readonly [number, TelemetryValue]>>;
  /** Bucketed windows: the plan's `rawFrom`. */
  rawFrom?: number;
}

/**
 * One key's points in the window, oldest first, as two columns (the shape
 * uPlot takes); a null value marks a gap in the data (drawn as a break).
 */
export interface SeriesView {
  ts: number[];
  values: (number | null)[];
}

/** A value as the chart draws it (booleans 0/1, an enum its index), or null: not charted. */
export type SeriesEncoder = (key: string, value: TelemetryValue) => number | null;

/** Without a model: numbers only. */
export const numbersOnly: SeriesEncoder = (_key, value) =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

/** A line is broken where two points are further apart than this many typical intervals... */
export const GAP_FACTOR = 5;
/** ...and at least this far apart (a device reporting every second is not "gone" for 5 s). */
export const MIN_GAP_MS = 30_000;

/** What a screen reader is told about a chart. */
export interface SeriesSummary {
  latest: { ts: number; value: number } | null;
  min: number | null;
  max: number | null;
  count: number;
}

type Point = [ts: number, value: number];
type RawPoint = [ts: number, value: TelemetryValue];

interface KeyData {
  /** Closed buckets `[start, average]`, ascending, all before `rawFrom`. */
  buckets: Point[];
  /** Raw points as they came (any value: the encoder decides what is charted), ascending, one per `ts`. */
  raw: RawPoint[];
}

interface LiveEntry {
  ts: number;
  values: TelemetryValues;
}

/** The requests that load `window` at `now` without a gap to the live stream. */
export function planHistory(window: SeriesWindow, now: number): HistoryPlan {
  const { spanMs, bucketMs, end } = window;
  if (end !== undefined) {
    // Nothing in a fixed window is still filling: all raw, or all the api's buckets.
    const from = end - spanMs;
    if (bucketMs <= 0) return { rawFrom: from, rawTo: end };
    const to = Math.ceil(end / bucketMs) * bucketMs;
    return { rawFrom: to, rawTo: to, buckets: { from: Math.floor(from / bucketMs) * bucketMs, to, bucketMs } };
  }
  if (bucketMs <= 0) return { rawFrom: now - spanMs };
  // The bucket `now` falls in is still filling: it is built here from raw
  // points (history, then live), so it can go on growing without a reload.
  const open = Math.floor(now / bucketMs) * bucketMs;
  return { rawFrom: open, buckets: { from: Math.floor((now - spanMs) / bucketMs) * bucketMs, to: open, bucketMs } };
}

/** The newest value, the smallest and the largest of a view (gaps left out). */
export function summarize(view: SeriesView): SeriesSummary {
  let latest: SeriesSummary['latest'] = null;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let count = 0;
  view.values.forEach((value, i) => {
    if (value === null) return;
    latest = { ts: view.ts[i], value };
    min = Math.min(min, value);
    max = Math.max(max, value);
    count++;
  });
  return count === 0 ? { latest: null, min: null, max: null, count } : { latest, min, max, count };
}

/**
 * Points with a null where the device sent nothing for a while, so a chart
 * breaks its line instead of drawing across the silence: raw points further
 * apart than {@link GAP_FACTOR} times their median interval (and at least
 * {@link MIN_GAP_MS}); buckets with a bucket or more missing between them.
 */
export function withGaps(points: readonly Point[], bucketMs: number): SeriesView {
  const ts: number[] = [];
  const values: (number | null)[] = [];
  if (points.length === 0) return { ts, values };
  const intervals: number[] = [];
  for (let i = 1; i < points.length && bucketMs <= 0; i++) intervals.push(points[i][0] - points[i - 1][0]);
  intervals.sort((a, b) => a - b);
  const median = intervals.length > 0 ? intervals[intervals.length >> 1] : 0;
  const gap = bucketMs > 0 ? 1.5 * bucketMs : Math.max(GAP_FACTOR * median, MIN_GAP_MS);
  for (let i = 0; i < points.length; i++) {
    if (i > 0 && points[i][0] - points[i - 1][0] > gap) {
      ts.push(points[i - 1][0] + 1);
      values.push(null);
    }
    ts.push(points[i][0]);
    values.push(points[i][1]);
  }
  return { ts, values };
}

/** The index of the first point at or after `ts` (points ascending). */
function lowerBound(points: ReadonlyArray<readonly [number, unknown]>, ts: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid][0] < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Ascending raw points, encoded, averaged per bucket of `bucketMs`, each labelled by its start. */
function average(
  points: readonly RawPoint[],
  bucketMs: number,
  encode: (value: TelemetryValue) => number | null,
): Point[] {
  const out: Point[] = [];
  let start = Number.NaN;
  let sum = 0;
  let count = 0;
  for (const [ts, raw] of points) {
    const value = encode(raw);
    if (value === null) continue;
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
  /** What is charted of each value; may change at any time (the device's model arrives). */
  encode: SeriesEncoder = numbersOnly;

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
        this.keyData(key).buckets = numeric(key, pairs, this.encode)
          .filter(([ts]) => ts < this.rawFrom)
          .sort((a, b) => a[0] - b[0]);
      }
    }
    const end = this.current.end ?? Number.POSITIVE_INFINITY;
    for (const [key, pairs] of Object.entries(history.raw)) {
      for (const [ts, value] of pairs) {
        if (ts >= this.rawFrom && ts <= end && storable(value)) this.put(key, ts, value);
      }
    }
    for (const entry of buffered) this.apply(entry);
    this.trim(now);
  }

  /** The history request failed: stop keeping entries aside; what is held stays shown. */
  failLoad(): void {
    this.buffer = null;
  }

  /** One live telemetry entry. Returns whether any charted point changed. */
  add(ts: number, values: TelemetryValues, now: number): boolean {
    this.buffer?.push({ ts, values });
    const changed = this.apply({ ts, values });
    this.trim(now);
    return changed;
  }

  /** Drops what has left the window and, in a bucketed window, folds closed buckets. */
  trim(now: number): void {
    const { spanMs, bucketMs, end } = this.current;
    if (end !== undefined) return; // a fixed window: nothing leaves it
    const start = now - spanMs;
    if (bucketMs > 0 && !this.loading) this.fold(now);
    for (const data of this.data.values()) {
      const rawStart = lowerBound(data.raw, start);
      if (rawStart > 0) data.raw.splice(0, rawStart);
      const bucketStart = lowerBound(data.buckets, start - bucketMs + 1);
      if (bucketStart > 0) data.buckets.splice(0, bucketStart);
    }
  }

  /** Every key that has held a point. */
  keys(): string[] {
    return [...this.data.keys()].sort();
  }

  /** One key's points within the window at `now`, oldest first. */
  view(key: string, now: number): SeriesView {
    return withGaps(this.points(key, now), this.current.bucketMs);
  }

  /** One key's points within the window at `now`, oldest first, encoded (what is not charted left out). */
  points(key: string, now: number): Point[] {
    const data = this.data.get(key);
    if (!data) return [];
    const { spanMs, bucketMs, end } = this.current;
    const start = (end ?? now) - spanMs;
    const encode = (value: TelemetryValue) => this.encode(key, value);
    let points: Point[];
    if (bucketMs > 0) {
      // A bucket is shown while any of it is in the window.
      const all = [...data.buckets, ...average(data.raw, bucketMs, encode)];
      points = all.slice(lowerBound(all, start - bucketMs + 1));
    } else {
      points = [];
      for (let i = lowerBound(data.raw, start); i < data.raw.length; i++) {
        const value = encode(data.raw[i][1]);
        if (value !== null) points.push([data.raw[i][0], value]);
      }
    }
    return end === undefined ? points : points.filter(([ts]) => ts <= end);
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
    if (this.current.end !== undefined && ts > this.current.end) return false;
    let changed = false;
    for (const [key, value] of Object.entries(values)) {
      // Every value is held (a model arriving later may chart it); only a charted one is a change.
      if (storable(value) && this.put(key, ts, value) && this.encode(key, value) !== null) changed = true;
    }
    return changed;
  }

  /** Inserts in order; the same `ts` again replaces the value (the later entry wins). */
  private put(key: string, ts: number, value: TelemetryValue): boolean {
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
    for (const [key, data] of this.data) {
      const end = lowerBound(data.raw, foldTo);
      if (end === 0) continue;
      data.buckets.push(...average(data.raw.slice(0, end), bucketMs, (value) => this.encode(key, value)));
      data.raw.splice(0, end);
    }
    this.rawFrom = foldTo;
  }
}

/** The api's bucket values, encoded (booleans come averaged, as numbers). */
function numeric(key: string, pairs: ReadonlyArray<readonly [number, TelemetryValue]>, encode: SeriesEncoder): Point[] {
  const out: Point[] = [];
  for (const [ts, value] of pairs) {
    const encoded = typeof value === 'number' ? numbersOnly(key, value) : encode(key, value);
    if (encoded !== null) out.push([ts, encoded]);
  }
  return out;
}

function storable(value: TelemetryValue): boolean {
  return typeof value !== 'number' || Number.isFinite(value);
}
