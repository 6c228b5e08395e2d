import { HttpClient, HttpParams } from '@angular/common/http';
import { inject, Injectable } from '@angular/core';
import type {
  DeliveryListResponse,
  DeliveryStatus,
  WebhookInput,
  WebhookTestResult,
  WebhookView,
  WebhookWithSecret,
} from '@iot/protocol';
import { map, type Observable } from 'rxjs';
import { apiUrl } from '../api-url';

export const WEBHOOKS_URL = apiUrl('/webhooks');
export const webhookUrl = (id: string) => `${WEBHOOKS_URL}/${encodeURIComponent(id)}`;
export const DELIVERY_PAGE_SIZE = 100;

/** Webhooks and their delivery log (admin, §3.6). */
@Injectable({ providedIn: 'root' })
export class WebhooksApi {
  private readonly http = inject(HttpClient);

  list(): Observable<WebhookView[]> {
    return this.http.get<WebhookView[]>(WEBHOOKS_URL, { withCredentials: true });
  }

  /** The answer holds the signing secret, shown this once. */
  create(input: WebhookInput): Observable<WebhookWithSecret> {
    return this.http.post<WebhookWithSecret>(WEBHOOKS_URL, input, { withCredentials: true });
  }

  update(id: string, input: WebhookInput): Observable<WebhookView> {
    return this.http.put<WebhookView>(webhookUrl(id), input, { withCredentials: true });
  }

  remove(id: string): Observable<void> {
    return this.http.delete(webhookUrl(id), { withCredentials: true }).pipe(map(() => undefined));
  }

  rotateSecret(id: string): Observable<WebhookWithSecret> {
    return this.http.post<WebhookWithSecret>(`${webhookUrl(id)}/rotate-secret`, null, { withCredentials: true });
  }

  test(id: string): Observable<WebhookTestResult> {
    return this.http.post<WebhookTestResult>(`${webhookUrl(id)}/test`, null, { withCredentials: true });
  }

  deliveries(id: string, status?: DeliveryStatus, cursor?: string | null): Observable<DeliveryListResponse> {
    let params = new HttpParams().set('limit', DELIVERY_PAGE_SIZE);
    if (status) params = params.set('status', status);
    if (cursor) params = params.set('cursor', cursor);
    return this.http.get<DeliveryListResponse>(`${webhookUrl(id)}/deliveries`, { params, withCredentials: true });
  }
}
