import { HttpClient, HttpParams } from '@angular/common/http';
import { inject, Injectable } from '@angular/core';
import type {
  CreateDeviceRequest,
  CreateDeviceResponse,
  DeviceCredentials,
  DeviceListItem,
  DeviceListResponse,
} from '@iot/protocol';
import { EMPTY, expand, map, type Observable, reduce, throwError } from 'rxjs';
import { apiUrl } from '../api-url';

export const DEVICES_URL = apiUrl('/devices');
/** The api's largest page. */
export const DEVICE_PAGE_SIZE = 1000;
/** `/devices/{id}`, the id encoded (ids are plain, but the url must never be built from unchecked text). */
export const deviceUrl = (id: string) => `${DEVICES_URL}/${encodeURIComponent(id)}`;
/** A guard against a server that keeps handing out cursors: 1000 pages is a million devices. */
const MAX_PAGES = 1000;

/** Filters the api applies to the list; empty values are left out of the query. */
export interface DeviceFilter {
  /** A label selector, `site=a,floor=2`: every pair must match. */
  labels?: string;
  type?: string;
  online?: boolean;
  /** A model id: the devices given that model (any version). */
  model?: string;
}

function filterParams(params: HttpParams, filter: DeviceFilter): HttpParams {
  const labels = filter.labels?.trim();
  if (labels) params = params.set('labels', labels);
  const type = filter.type?.trim();
  if (type) params = params.set('type', type);
  if (filter.online !== undefined) params = params.set('online', String(filter.online));
  const model = filter.model?.trim();
  if (model) params = params.set('model', model);
  return params;
}

/** The devices part of the REST api. */
@Injectable({ providedIn: 'root' })
export class DevicesApi {
  private readonly http = inject(HttpClient);

  /** One page of devices. */
  list(cursor?: string, filter: DeviceFilter = {}): Observable<DeviceListResponse> {
    let params = filterParams(new HttpParams().set('limit', DEVICE_PAGE_SIZE), filter);
    if (cursor) params = params.set('cursor', cursor);
    return this.http.get<DeviceListResponse>(DEVICES_URL, { params, withCredentials: true });
  }

  /** Every device the user may see (that matches `filter`), following `nextCursor` page by page; one emission. */
  listAll(filter: DeviceFilter = {}): Observable<DeviceListItem[]> {
    let pages = 0;
    const seen = new Set<string>();
    return this.list(undefined, filter).pipe(
      expand((page) => {
        const cursor = page.nextCursor;
        if (!cursor) return EMPTY;
        if (seen.has(cursor) || ++pages >= MAX_PAGES) {
          return throwError(() => new Error('The device list did not end (the api repeated a cursor)'));
        }
        seen.add(cursor);
        return this.list(cursor, filter);
      }),
      reduce<DeviceListResponse, DeviceListItem[]>((all, page) => all.concat(page.items), []),
    );
  }

  /**
   * Registers a device (admin). The answer holds its secret, which the api
   * shows this once: 409 if the id exists, 400 naming the field that is wrong.
   */
  create(request: CreateDeviceRequest): Observable<CreateDeviceResponse> {
    return this.http.post<CreateDeviceResponse>(DEVICES_URL, request, { withCredentials: true });
  }

  /** Issues a new secret (admin): the old one fails at once and the device's live session is dropped. */
  rotateCredentials(id: string): Observable<DeviceCredentials> {
    return this.http.post<DeviceCredentials>(`${deviceUrl(id)}/credentials`, null, { withCredentials: true });
  }

  /** Deletes a device with its history and revokes its secret (admin); completes with one emission. */
  remove(id: string): Observable<void> {
    return this.http.delete(deviceUrl(id), { withCredentials: true }).pipe(map(() => undefined));
  }
}
