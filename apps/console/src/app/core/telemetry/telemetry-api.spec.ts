import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import type { TelemetrySeriesResponse } from '@iot/protocol';
import { TelemetryApi } from './telemetry-api';

describe('TelemetryApi', () => {
  let sut: TelemetryApi;
  let http: HttpTestingController;

  beforeEach(() => {
    TestBed.configureTestingModule({ providers: [provideHttpClient(), provideHttpClientTesting()] });
    sut = TestBed.inject(TelemetryApi);
    http = TestBed.inject(HttpTestingController);
  });

  afterEach(() => http.verify());

  it('asks for raw points with the keys, the range, the order and the limit', () => {
    let result: TelemetrySeriesResponse | undefined;
    sut
      .history('boiler 1', { keys: ['temperature', 'pressure'], from: 1_000, order: 'desc', limit: 500 })
      .subscribe((answer) => (result = answer));

    const req = http.expectOne((r) => r.url === '/api/v1/devices/boiler%201/telemetry');
    expect(req.request.withCredentials).toBe(true);
    expect(req.request.params.get('keys')).toBe('temperature,pressure');
    expect(req.request.params.get('from')).toBe('1000');
    expect(req.request.params.get('order')).toBe('desc');
    expect(req.request.params.get('limit')).toBe('500');
    expect(req.request.params.has('to')).toBe(false);
    expect(req.request.params.has('bucket')).toBe(false);
    req.flush({ deviceId: 'boiler 1', series: { temperature: [[1_500, 61]] } });

    expect(result?.series['temperature']).toEqual([[1_500, 61]]);
  });

  it('asks for aggregates with the bucket written as the api reads it', () => {
    sut.history('boiler-1', { keys: [], from: 0, to: 86_400_000, bucketMs: 300_000, agg: 'avg' }).subscribe();

    const req = http.expectOne((r) => r.url === '/api/v1/devices/boiler-1/telemetry');
    expect(req.request.params.get('bucket')).toBe('5m');
    expect(req.request.params.get('agg')).toBe('avg');
    expect(req.request.params.get('to')).toBe('86400000');
    expect(req.request.params.has('keys')).toBe(false);
    req.flush({ deviceId: 'boiler-1', series: {} });
  });
});
