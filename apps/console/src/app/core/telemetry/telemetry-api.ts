import { HttpClient, HttpParams } from '@angular/common/http';
import { inject, Injectable } from '@angular/core';
import { formatDuration, type TelemetryAggregation, type TelemetrySeriesResponse } from '@iot/protocol';
import type { Observable } from 'rxjs';
import { apiUrl } from '../api-url';

/** `GET /devices/{id}/telemetry` (docs/protocol.md §3.3); times are epoch ms. */
export interface HistoryQuery {
  /** At most 100 keys; every key the device has reported when empty. */
  keys: readonly string[];
  from: number;
  /** Omitted: up to everything stored by the time the api answers. */
  to?: number;
  order?: 'asc' | 'desc';
  /** Points per key, the first ones in `order`. */
  limit?: number;
  /** One aggregate per bucket this wide, aligned to the epoch. */
  bucketMs?: number;
  /** With `bucketMs`; the api averages by default. */
  agg?: TelemetryAggregation;
}

/** Telemetry history over REST; live points come from the stream. */
@Injectable({ providedIn: 'root' })
export class TelemetryApi {
  private readonly http = inject(HttpClient);

  history(deviceId: string, query: HistoryQuery): Observable<TelemetrySeriesResponse> {
    let params = new HttpParams().set('from', query.from);
    if (query.keys.length > 0) params = params.set('keys', query.keys.join(','));
    if (query.to !== undefined) params = params.set('to', query.to);
    if (query.order) params = params.set('order', query.order);
    if (query.limit !== undefined) params = params.set('limit', query.limit);
    if (query.bucketMs !== undefined) params = params.set('bucket', formatDuration(query.bucketMs));
    if (query.agg) params = params.set('agg', query.agg);
    return this.http.get<TelemetrySeriesResponse>(apiUrl(`/devices/${encodeURIComponent(deviceId)}/telemetry`), {
      params,
      withCredentials: true,
    });
  }
}
