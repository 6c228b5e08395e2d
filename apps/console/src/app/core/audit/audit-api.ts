import { HttpClient, HttpParams } from '@angular/common/http';
import { inject, Injectable } from '@angular/core';
import type { AuditListResponse } from '@iot/protocol';
import type { Observable } from 'rxjs';
import { apiUrl } from '../api-url';

export const AUDIT_URL = apiUrl('/audit');
export const AUDIT_PAGE_SIZE = 100;
/** An export is one page of the api's largest size: the newest 1000 entries that match. */
export const AUDIT_EXPORT_SIZE = 1000;

/** The audit log's filters; empty text and null times are left out of the query. */
export interface AuditFilter {
  actor: string;
  action: string;
  target: string;
  /** Epoch ms: entries at or after it. */
  from: number | null;
  /** Epoch ms: entries before it. */
  to: number | null;
}

export const NO_AUDIT_FILTER: AuditFilter = { actor: '', action: '', target: '', from: null, to: null };

/** The filter as query parameters, bounded as the api bounds them. */
export function auditParams(filter: AuditFilter, cursor?: string | null, limit = AUDIT_PAGE_SIZE): HttpParams {
  let params = new HttpParams().set('limit', limit);
  for (const key of ['actor', 'action', 'target'] as const) {
    const value = filter[key].trim();
    if (value) params = params.set(key, value.slice(0, key === 'action' ? 64 : 256));
  }
  for (const key of ['from', 'to'] as const) {
    const value = filter[key];
    if (value !== null && Number.isFinite(value) && value >= 0) params = params.set(key, Math.floor(value));
  }
  if (cursor) params = params.set('cursor', cursor);
  return params;
}

/** The audit log (admin), newest first. */
@Injectable({ providedIn: 'root' })
export class AuditApi {
  private readonly http = inject(HttpClient);

  list(filter: AuditFilter, cursor?: string | null): Observable<AuditListResponse> {
    return this.http.get<AuditListResponse>(AUDIT_URL, { params: auditParams(filter, cursor), withCredentials: true });
  }

  /**
   * The same page as CSV, for a download link: the session cookie goes with a
   * same-origin navigation, so the link needs no token.
   */
  csvUrl(filter: AuditFilter): string {
    return `${AUDIT_URL}?${auditParams(filter, null, AUDIT_EXPORT_SIZE).set('format', 'csv').toString()}`;
  }
}
