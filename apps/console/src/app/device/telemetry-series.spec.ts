import { planHistory, type SeriesView, summarize, TelemetrySeries, withGaps } from './telemetry-series';

const SECOND = 1_000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
/** A time on a whole hour, so bucket edges are easy to read. */
const T0 = 1_764_237_600_000;

const RAW_15M = { spanMs: 15 * MINUTE, bucketMs: 0 };
const RAW_1H = { spanMs: HOUR, bucketMs: 0 };
const DAY_5M = { spanMs: 24 * HOUR, bucketMs: 5 * MINUTE };

/** A view as `[ts, value]` pairs, which read better in expectations. */
const pairs = (view: SeriesView) => view.ts.map((ts, i) => [ts, view.values[i]]);

describe('planHistory', () => {
  it('asks a raw window for raw points from its start, with no end', () => {
    expect(planHistory(RAW_15M, T0)).toEqual({ rawFrom: T0 - 15 * MINUTE });
  });

  it('splits a bucketed window at the open bucket: closed buckets from the api, the open one raw', () => {
    const now = T0 + 7 * MINUTE + 12 * SECOND;
    const plan = planHistory(DAY_5M, now);
    expect(plan.rawFrom).toBe(T0 + 5 * MINUTE);
    expect(plan.buckets).toEqual({ from: T0 - 24 * HOUR + 5 * MINUTE, to: T0 + 5 * MINUTE, bucketMs: 5 * MINUTE });
    // The buckets end exactly where the raw points start: no gap, no overlap.
    expect(plan.buckets?.to).toBe(plan.rawFrom);
  });
});

describe('TelemetrySeries, raw window', () => {
  let sut: TelemetrySeries;

  beforeEach(() => {
    sut = new TelemetrySeries(RAW_15M);
  });

  it('joins history and the live entries that arrived during the request without a gap', () => {
    sut.beginLoad();
    // Stored after the api read the history, so only the stream has it.
    sut.add(T0 + 3 * SECOND, { temperature: 63 }, T0 + 3 * SECOND);
    sut.completeLoad(
      {
        raw: {
          temperature: [
            [T0 + SECOND, 61],
            [T0 + 2 * SECOND, 62],
          ],
        },
      },
      T0 + 4 * SECOND,
    );
    sut.add(T0 + 4 * SECOND, { temperature: 64 }, T0 + 4 * SECOND);

    expect(pairs(sut.view('temperature', T0 + 4 * SECOND))).toEqual([
      [T0 + SECOND, 61],
      [T0 + 2 * SECOND, 62],
      [T0 + 3 * SECOND, 63],
      [T0 + 4 * SECOND, 64],
    ]);
  });

  it('shows live entries while the history is still loading', () => {
    sut.beginLoad();
    expect(sut.add(T0, { temperature: 60 }, T0)).toBe(true);
    expect(sut.loading).toBe(true);
    expect(pairs(sut.view('temperature', T0))).toEqual([[T0, 60]]);
  });

  it('keeps one point for an entry that is in both the history and the stream', () => {
    sut.beginLoad();
    sut.add(T0 + 2 * SECOND, { temperature: 62 }, T0 + 2 * SECOND);
    sut.completeLoad(
      {
        raw: {
          temperature: [
            [T0 + SECOND, 61],
            [T0 + 2 * SECOND, 62],
          ],
        },
      },
      T0 + 2 * SECOND,
    );

    expect(pairs(sut.view('temperature', T0 + 2 * SECOND))).toEqual([
      [T0 + SECOND, 61],
      [T0 + 2 * SECOND, 62],
    ]);
  });

  it('lets an entry that arrived during the request win over the history for the same timestamp', () => {
    sut.beginLoad();
    sut.add(T0, { temperature: 70 }, T0);
    sut.completeLoad({ raw: { temperature: [[T0, 69]] } }, T0);
    expect(pairs(sut.view('temperature', T0))).toEqual([[T0, 70]]);
  });

  it('lets the history win over a point held from before the load', () => {
    sut.add(T0, { temperature: 69 }, T0);
    sut.beginLoad();
    sut.completeLoad({ raw: { temperature: [[T0, 70]] } }, T0);
    expect(pairs(sut.view('temperature', T0))).toEqual([[T0, 70]]);
  });

  it('keeps points held from before a reload that the history does not hold', () => {
    sut.add(T0 + 5 * SECOND, { temperature: 65 }, T0 + 5 * SECOND);
    sut.beginLoad();
    sut.completeLoad({ raw: { temperature: [[T0 + SECOND, 61]] } }, T0 + 5 * SECOND);
    expect(pairs(sut.view('temperature', T0 + 5 * SECOND))).toEqual([
      [T0 + SECOND, 61],
      [T0 + 5 * SECOND, 65],
    ]);
  });

  it('puts live entries that arrive out of order in their place', () => {
    sut.add(T0 + 3 * SECOND, { temperature: 3 }, T0 + 3 * SECOND);
    sut.add(T0 + SECOND, { temperature: 1 }, T0 + 3 * SECOND);
    sut.add(T0 + 2 * SECOND, { temperature: 2 }, T0 + 3 * SECOND);
    sut.add(T0 + 4 * SECOND, { temperature: 4 }, T0 + 4 * SECOND);

    expect(sut.view('temperature', T0 + 4 * SECOND).ts).toEqual([
      T0 + SECOND,
      T0 + 2 * SECOND,
      T0 + 3 * SECOND,
      T0 + 4 * SECOND,
    ]);
  });

  it('sorts history that comes newest first', () => {
    sut.beginLoad();
    sut.completeLoad(
      {
        raw: {
          temperature: [
            [T0 + 2 * SECOND, 2],
            [T0 + SECOND, 1],
            [T0, 0],
          ],
        },
      },
      T0 + 2 * SECOND,
    );
    expect(sut.view('temperature', T0 + 2 * SECOND).values).toEqual([0, 1, 2]);
  });

  it('replaces the value of a repeated timestamp and reports no change when it is the same', () => {
    expect(sut.add(T0, { temperature: 1 }, T0)).toBe(true);
    expect(sut.add(T0, { temperature: 1 }, T0)).toBe(false);
    expect(sut.add(T0, { temperature: 2 }, T0)).toBe(true);
    expect(pairs(sut.view('temperature', T0))).toEqual([[T0, 2]]);
  });

  it('charts numbers only without a model: strings and booleans are held, not shown', () => {
    sut.beginLoad();
    sut.completeLoad(
      {
        raw: {
          mode: [[T0, 'eco']],
          temperature: [
            [T0, 'n/a'],
            [T0 + SECOND, 61],
          ],
        },
      },
      T0 + SECOND,
    );
    expect(sut.add(T0 + 2 * SECOND, { pump: true, mode: 'boost' }, T0 + 2 * SECOND)).toBe(false);

    expect(pairs(sut.view('temperature', T0 + 2 * SECOND))).toEqual([[T0 + SECOND, 61]]);
    expect(sut.view('mode', T0 + 2 * SECOND)).toEqual({ ts: [], values: [] });

    // The model arrives: booleans and enum values are charted (as 0/1 and their index), history and live.
    sut.encode = (key, value) =>
      key === 'pump' && typeof value === 'boolean'
        ? Number(value)
        : key === 'mode'
          ? ['eco', 'boost'].indexOf(value as string)
          : null;
    expect(pairs(sut.view('mode', T0 + 2 * SECOND))).toEqual([
      [T0, 0],
      [T0 + 2 * SECOND, 1],
    ]);
    expect(pairs(sut.view('pump', T0 + 2 * SECOND))).toEqual([[T0 + 2 * SECOND, 1]]);
    expect(sut.add(T0 + 3 * SECOND, { pump: false }, T0 + 3 * SECOND)).toBe(true);
  });

  it('breaks the line where the device sent nothing for a while', () => {
    for (let i = 0; i < 5; i++) sut.add(T0 + i * SECOND, { temperature: i }, T0 + i * SECOND);
    sut.add(T0 + 5 * MINUTE, { temperature: 9 }, T0 + 5 * MINUTE);
    expect(pairs(sut.view('temperature', T0 + 5 * MINUTE))).toEqual([
      [T0, 0],
      [T0 + SECOND, 1],
      [T0 + 2 * SECOND, 2],
      [T0 + 3 * SECOND, 3],
      [T0 + 4 * SECOND, 4],
      [T0 + 4 * SECOND + 1, null],
      [T0 + 5 * MINUTE, 9],
    ]);
  });

  it('drops points that leave the window as time goes on', () => {
    sut.add(T0, { temperature: 1 }, T0);
    sut.add(T0 + 10 * MINUTE, { temperature: 2 }, T0 + 10 * MINUTE);

    expect(sut.view('temperature', T0 + 15 * MINUTE).values).toEqual([1, 2]);
    expect(sut.view('temperature', T0 + 15 * MINUTE + 1).values).toEqual([2]);

    sut.add(T0 + 20 * MINUTE, { temperature: 3 }, T0 + 20 * MINUTE);
    // Trimmed from memory too: a wider window does not bring it back.
    sut.setWindow(RAW_1H);
    expect(sut.view('temperature', T0 + 20 * MINUTE).values).toEqual([2, 3]);
  });

  it('does not let an entry from before the window in', () => {
    sut.add(T0 - 16 * MINUTE, { temperature: 1 }, T0);
    expect(sut.view('temperature', T0).ts).toEqual([]);
  });

  it('stops keeping entries aside after a failed load, and shows what it holds', () => {
    sut.add(T0, { temperature: 1 }, T0);
    sut.beginLoad();
    sut.add(T0 + SECOND, { temperature: 2 }, T0 + SECOND);
    sut.failLoad();

    expect(sut.loading).toBe(false);
    expect(sut.view('temperature', T0 + SECOND).values).toEqual([1, 2]);

    // A retry still joins without a gap.
    sut.beginLoad();
    sut.completeLoad(
      {
        raw: {
          temperature: [
            [T0 - SECOND, 0],
            [T0, 1],
            [T0 + SECOND, 2],
          ],
        },
      },
      T0 + SECOND,
    );
    expect(sut.view('temperature', T0 + SECOND).values).toEqual([0, 1, 2]);
  });

  it('switches to a wider range: shows what it holds at once, then the older history', () => {
    sut.add(T0, { temperature: 1 }, T0);
    sut.setWindow(RAW_1H);
    expect(sut.view('temperature', T0).values).toEqual([1]);

    sut.beginLoad();
    sut.completeLoad(
      {
        raw: {
          temperature: [
            [T0 - 40 * MINUTE, 0],
            [T0, 1],
          ],
        },
      },
      T0,
    );
    expect(pairs(sut.view('temperature', T0))).toEqual([
      [T0 - 40 * MINUTE, 0],
      [T0, 1],
    ]);
  });

  it('switches to a narrower range: only what is inside the new window is shown', () => {
    sut = new TelemetrySeries(RAW_1H);
    sut.beginLoad();
    sut.completeLoad(
      {
        raw: {
          temperature: [
            [T0 - 40 * MINUTE, 0],
            [T0 - 5 * MINUTE, 1],
          ],
        },
      },
      T0,
    );
    sut.setWindow(RAW_15M);
    expect(sut.view('temperature', T0).values).toEqual([1]);
  });
});

describe('TelemetrySeries, bucketed window', () => {
  const B = 5 * MINUTE;
  /** Now: 2 minutes into the bucket that starts at T0. */
  const NOW = T0 + 2 * MINUTE;
  let sut: TelemetrySeries;

  function loadDay(now = NOW): void {
    const plan = planHistory(DAY_5M, now);
    sut.beginLoad();
    sut.completeLoad(
      {
        rawFrom: plan.rawFrom,
        buckets: {
          temperature: [
            [T0 - 2 * B, 50],
            [T0 - B, 55],
          ],
        },
        raw: {
          temperature: [
            [T0 + 30 * SECOND, 60],
            [T0 + 90 * SECOND, 62],
          ],
        },
      },
      now,
    );
  }

  beforeEach(() => {
    sut = new TelemetrySeries(DAY_5M);
  });

  it('shows the api buckets, then the open bucket averaged from raw points', () => {
    loadDay();
    expect(pairs(sut.view('temperature', NOW))).toEqual([
      [T0 - 2 * B, 50],
      [T0 - B, 55],
      [T0, 61],
    ]);
  });

  it('adds live entries to the open bucket average, counting an entry the history holds once', () => {
    sut.beginLoad();
    sut.add(T0 + 90 * SECOND, { temperature: 62 }, NOW); // also in the raw history below
    sut.add(T0 + 100 * SECOND, { temperature: 70 }, NOW);
    sut.completeLoad(
      { rawFrom: T0, buckets: { temperature: [[T0 - B, 55]] }, raw: { temperature: [[T0 + 90 * SECOND, 62]] } },
      NOW,
    );

    expect(pairs(sut.view('temperature', NOW))).toEqual([
      [T0 - B, 55],
      [T0, 66],
    ]);
  });

  it('leaves an entry for a closed bucket to the next load instead of skewing its average', () => {
    loadDay();
    expect(sut.add(T0 - B + SECOND, { temperature: 1_000 }, NOW)).toBe(false);
    expect(sut.view('temperature', NOW).values).toEqual([50, 55, 61]);
  });

  it('drops held raw points that the api buckets now cover', () => {
    sut.add(T0 - B + SECOND, { temperature: 1_000 }, NOW);
    loadDay();
    expect(sut.view('temperature', NOW).values).toEqual([50, 55, 61]);
  });

  it('opens new buckets as time goes on, and folds closed ones without changing them', () => {
    loadDay();
    sut.add(T0 + B + 10 * SECOND, { temperature: 80 }, T0 + B + 10 * SECOND);
    const later = T0 + 3 * B + 10 * SECOND;
    sut.add(T0 + 3 * B, { temperature: 90 }, later);

    expect(pairs(sut.view('temperature', later))).toEqual([
      [T0 - 2 * B, 50],
      [T0 - B, 55],
      [T0, 61],
      [T0 + B, 80],
      // Nothing came in the bucket at 2B: a gap.
      [T0 + B + 1, null],
      [T0 + 3 * B, 90],
    ]);
    // Folded: the bucket at T0 is closed now, so a straggler for it is left to the next load.
    expect(sut.add(T0 + 4 * MINUTE, { temperature: 0 }, later)).toBe(false);
    expect(sut.view('temperature', later).values).toEqual([50, 55, 61, 80, null, 90]);
  });

  it('keeps the last closed bucket raw for a while, so a straggler still counts', () => {
    loadDay();
    const next = T0 + B + 10 * SECOND;
    expect(sut.add(T0 + 4 * MINUTE, { temperature: 65 }, next)).toBe(true);
    expect(pairs(sut.view('temperature', next))).toEqual([
      [T0 - 2 * B, 50],
      [T0 - B, 55],
      [T0, (60 + 62 + 65) / 3],
    ]);
  });

  it('drops buckets once they are wholly out of the window', () => {
    loadDay();
    const dayLater = T0 - B + 24 * HOUR + 1;
    expect(sut.view('temperature', dayLater).ts[0]).toBe(T0 - B);
    sut.trim(dayLater);
    expect(sut.view('temperature', dayLater).ts[0]).toBe(T0 - B);
  });

  it('switches from raw to buckets: held points are averaged until the history arrives', () => {
    sut = new TelemetrySeries(RAW_15M);
    sut.add(T0 + 10 * SECOND, { temperature: 10 }, NOW);
    sut.add(T0 + 20 * SECOND, { temperature: 20 }, NOW);
    sut.setWindow(DAY_5M);
    expect(pairs(sut.view('temperature', NOW))).toEqual([[T0, 15]]);

    loadDay();
    expect(pairs(sut.view('temperature', NOW))).toEqual([
      [T0 - 2 * B, 50],
      [T0 - B, 55],
      [T0, (10 + 20 + 60 + 62) / 4],
    ]);
  });

  it('switches from buckets to raw: the buckets go, raw points stay', () => {
    loadDay();
    sut.setWindow(RAW_15M);
    expect(pairs(sut.view('temperature', NOW))).toEqual([
      [T0 + 30 * SECOND, 60],
      [T0 + 90 * SECOND, 62],
    ]);
  });

  it('skips buckets that are not numbers (agg=avg leaves strings out; be safe anyway)', () => {
    sut.beginLoad();
    sut.completeLoad({ rawFrom: T0, buckets: { mode: [[T0 - B, 'eco']] }, raw: {} }, NOW);
    expect(sut.view('mode', NOW).ts).toEqual([]);
  });
});

describe('withGaps', () => {
  it('breaks at silences longer than five typical intervals, and at least 30 s', () => {
    const points: Array<[number, number]> = [
      [0, 1],
      [10 * SECOND, 2],
      [20 * SECOND, 3],
      [60 * SECOND, 4],
      [70 * SECOND, 5],
      [200 * SECOND, 6],
    ];
    expect(withGaps(points, 0).values).toEqual([1, 2, 3, 4, 5, null, 6]);
  });

  it('breaks a bucketed series where a bucket or more is missing', () => {
    const points: Array<[number, number]> = [
      [0, 1],
      [5 * MINUTE, 2],
      [10 * MINUTE, 3],
      [25 * MINUTE, 4],
    ];
    expect(withGaps(points, 5 * MINUTE).values).toEqual([1, 2, 3, null, 4]);
  });
});

describe('TelemetrySeries, fixed window', () => {
  const FIXED = { spanMs: 10 * MINUTE, bucketMs: 0, end: T0 };

  it('plans raw points between its ends, or the api buckets over all of it', () => {
    expect(planHistory(FIXED, T0 + HOUR)).toEqual({ rawFrom: T0 - 10 * MINUTE, rawTo: T0 });
    expect(planHistory({ spanMs: 24 * HOUR, bucketMs: 5 * MINUTE, end: T0 + SECOND }, T0 + HOUR)).toEqual({
      rawFrom: T0 + 5 * MINUTE,
      rawTo: T0 + 5 * MINUTE,
      buckets: { from: T0 - 24 * HOUR, to: T0 + 5 * MINUTE, bucketMs: 5 * MINUTE },
    });
  });

  it('shows only its points, keeps them as time goes on, and leaves later live entries out', () => {
    const sut = new TelemetrySeries(FIXED);
    sut.beginLoad();
    sut.completeLoad(
      {
        raw: {
          temperature: [
            [T0 - 20 * MINUTE, 1],
            [T0 - 5 * MINUTE, 2],
            [T0 + MINUTE, 3],
          ],
        },
      },
      T0 + HOUR,
    );
    expect(sut.add(T0 + 2 * HOUR, { temperature: 4 }, T0 + 2 * HOUR)).toBe(false);
    expect(pairs(sut.view('temperature', T0 + 3 * HOUR))).toEqual([[T0 - 5 * MINUTE, 2]]);
  });
});

describe('summarize', () => {
  it('gives the latest value, the smallest and the largest', () => {
    expect(summarize({ ts: [1, 2, 3], values: [5, -2, 4] })).toEqual({
      latest: { ts: 3, value: 4 },
      min: -2,
      max: 5,
      count: 3,
    });
  });

  it('leaves gaps out', () => {
    expect(summarize({ ts: [1, 2, 3], values: [4, null, 2] })).toEqual({
      latest: { ts: 3, value: 2 },
      min: 2,
      max: 4,
      count: 2,
    });
  });

  it('says nothing for an empty view', () => {
    expect(summarize({ ts: [], values: [] })).toEqual({ latest: null, min: null, max: null, count: 0 });
  });
});
