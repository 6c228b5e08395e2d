import { HttpErrorResponse } from '@angular/common/http';
import { computed } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import type { TelemetrySeriesResponse, TelemetryValue } from '@iot/protocol';
import { Subject } from 'rxjs';
import { type StreamMessage, StreamService } from '../core/stream/stream.service';
import { resetMessage, telemetryMessage } from '../core/testing/factories';
import { fakeStream } from '../core/testing/fake-stream';
import { strictMock } from '../core/testing/strict-mock';
import { type HistoryQuery, TelemetryApi } from '../core/telemetry/telemetry-api';
import { RAW_HISTORY_LIMIT, TelemetryChartsStore } from './telemetry-charts.store';

const SECOND = 1_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** On a whole hour, so buckets start here. */
const T0 = 1_764_237_600_000;
const NOW = T0 + 2 * MINUTE;

interface Request {
  deviceId: string;
  query: HistoryQuery;
  answer: Subject<TelemetrySeriesResponse>;
}

type Series = Record<string, Array<[number, TelemetryValue]>>;

describe('TelemetryChartsStore', () => {
  let sut: TelemetryChartsStore;
  let messages: Subject<StreamMessage>;
  let requests: Request[];

  function answer(request: Request | undefined, series: Series): void {
    if (!request) throw new Error('no such request');
    request.answer.next({ deviceId: request.deviceId, series });
    request.answer.complete();
  }

  const last = () => requests[requests.length - 1];
  const live = (ts: number, values: Record<string, TelemetryValue>, deviceId = 'boiler-1') =>
    messages.next(telemetryMessage(deviceId, ts, values));
  const points = (key: string) => {
    const view = sut.view(key, Date.now());
    return view.ts.map((ts, i) => [ts, view.values[i]]);
  };

  beforeEach(() => {
    jest.useFakeTimers();
    jest.setSystemTime(NOW);
    messages = new Subject();
    requests = [];
    const api = strictMock<TelemetryApi>(
      {
        history: (deviceId: string, query: HistoryQuery) => {
          const request: Request = { deviceId, query, answer: new Subject() };
          requests.push(request);
          return request.answer;
        },
      },
      'TelemetryApi',
    );
    TestBed.configureTestingModule({
      providers: [
        TelemetryChartsStore,
        { provide: TelemetryApi, useValue: api },
        { provide: StreamService, useValue: fakeStream(messages) },
      ],
    });
    sut = TestBed.inject(TelemetryChartsStore);
    sut.open('boiler-1');
  });

  afterEach(() => {
    TestBed.resetTestingModule();
    jest.useRealTimers();
  });

  it('loads the live range as the newest raw points of the last 5 minutes, every key', () => {
    expect(requests).toHaveLength(1);
    expect(last()).toMatchObject({
      deviceId: 'boiler-1',
      query: { keys: [], from: NOW - 5 * MINUTE, order: 'desc', limit: RAW_HISTORY_LIMIT },
    });
    expect(last().query.to).toBeUndefined();
    expect(sut.loading()).toBe(true);
  });

  it('joins the history to the stream: points that arrive during the request are kept, once', () => {
    live(NOW - 10 * SECOND, { temperature: 60 }); // the api has it too
    live(NOW - 5 * SECOND, { temperature: 61, mode: 'eco' }); // stored after the api read
    answer(last(), {
      temperature: [
        [NOW - 10 * SECOND, 60],
        [NOW - 20 * SECOND, 59],
      ],
      mode: [[NOW - 20 * SECOND, 'eco']],
    });
    live(NOW, { temperature: 62 });

    expect(sut.loading()).toBe(false);
    expect(points('temperature')).toEqual([
      [NOW - 20 * SECOND, 59],
      [NOW - 10 * SECOND, 60],
      [NOW - 5 * SECOND, 61],
      [NOW, 62],
    ]);
    expect(points('mode')).toEqual([]);
  });

  it("ignores other devices' telemetry", () => {
    answer(last(), {});
    live(NOW, { temperature: 99 }, 'other-device');
    expect(points('temperature')).toEqual([]);
  });

  it('recomputes views that read it when a point arrives', () => {
    answer(last(), { temperature: [[NOW - SECOND, 1]] });
    const count = TestBed.runInInjectionContext(() => computed(() => sut.view('temperature', NOW).ts.length));
    expect(count()).toBe(1);
    live(NOW, { temperature: 2 });
    expect(count()).toBe(2);
  });

  it('reloads the history after a reset and joins it again', () => {
    answer(last(), { temperature: [[NOW - 30 * SECOND, 1]] });
    messages.next(resetMessage());

    expect(requests).toHaveLength(2);
    expect(sut.loading()).toBe(true);
    live(NOW + SECOND, { temperature: 3 });
    jest.setSystemTime(NOW + SECOND);
    // The history has what was missed while the stream was away.
    answer(last(), {
      temperature: [
        [NOW - 30 * SECOND, 1],
        [NOW - 15 * SECOND, 2],
      ],
    });

    expect(points('temperature')).toEqual([
      [NOW - 30 * SECOND, 1],
      [NOW - 15 * SECOND, 2],
      [NOW + SECOND, 3],
    ]);
  });

  it('shows a failed load as an error, keeps charting live points, and retries on reload()', () => {
    requests[0].answer.error(new HttpErrorResponse({ status: 503, statusText: 'Service Unavailable' }));
    expect(sut.error()).toBe('The platform failed (HTTP 503). Try again shortly.');
    expect(sut.loading()).toBe(false);

    live(NOW, { temperature: 5 });
    expect(points('temperature')).toEqual([[NOW, 5]]);

    sut.reload();
    expect(sut.loading()).toBe(true);
    answer(last(), { temperature: [[NOW - MINUTE, 4]] });
    expect(sut.error()).toBeNull();
    expect(points('temperature')).toEqual([
      [NOW - MINUTE, 4],
      [NOW, 5],
    ]);
  });

  it('loads 24 h as closed 5-minute averages plus the open bucket raw, and drops the request it replaces', () => {
    const first = requests[0];
    sut.setRange('24h');

    expect(sut.range().id).toBe('24h');
    expect(first.answer.observed).toBe(false);
    const [raw, buckets] = requests.slice(1);
    expect(buckets.query).toEqual({ keys: [], from: T0 - 24 * HOUR, to: T0, bucketMs: 5 * MINUTE, agg: 'avg' });
    expect(raw.query).toEqual({ keys: [], from: T0, order: 'desc', limit: RAW_HISTORY_LIMIT });

    live(T0 + 90 * SECOND, { temperature: 64 });
    answer(raw, { temperature: [[T0 + 30 * SECOND, 60]] });
    expect(sut.loading()).toBe(true); // both answers are needed
    answer(buckets, {
      temperature: [
        [T0 - 10 * MINUTE, 50],
        [T0 - 5 * MINUTE, 55],
      ],
    });

    expect(sut.loading()).toBe(false);
    expect(points('temperature')).toEqual([
      [T0 - 10 * MINUTE, 50],
      [T0 - 5 * MINUTE, 55],
      [T0, 62],
    ]);
  });

  it('does nothing when the range chosen is the one shown', () => {
    sut.setRange('live');
    expect(requests).toHaveLength(1);
  });

  it('starts afresh for another device', () => {
    answer(last(), { temperature: [[NOW - SECOND, 1]] });
    sut.open('pump-7');

    expect(last().deviceId).toBe('pump-7');
    expect(points('temperature')).toEqual([]);
    live(NOW, { temperature: 2 }, 'boiler-1');
    live(NOW, { temperature: 3 }, 'pump-7');
    expect(points('temperature')).toEqual([[NOW, 3]]);
  });
});
