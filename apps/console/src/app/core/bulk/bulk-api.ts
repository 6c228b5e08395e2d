import { HttpClient } from '@angular/common/http';
import { inject, Injectable } from '@angular/core';
import type { BulkCommandView, JsonObject, SendCommandRequest } from '@iot/protocol';
import type { Observable } from 'rxjs';
import { apiUrl } from '../api-url';

/** What a bulk goes to: devices picked one by one, or every device a label selector matches. */
export type BulkTarget = { devices: readonly string[] } | { labels: string };

/** Bulk commands and desired-state patches: one per device, each with its own outcome. */
@Injectable({ providedIn: 'root' })
export class BulkApi {
  private readonly http = inject(HttpClient);

  /** One command to each device of the target (`POST /commands/bulk`). */
  sendCommand(target: BulkTarget, request: SendCommandRequest): Observable<BulkCommandView> {
    return this.http.post<BulkCommandView>(apiUrl('/commands/bulk'), { ...target, ...request }, { withCredentials: true });
  }

  /** One merge patch of the desired state to each device of the target (`POST /state/bulk`). */
  patchDesired(target: BulkTarget, desired: JsonObject): Observable<BulkCommandView> {
    return this.http.post<BulkCommandView>(apiUrl('/state/bulk'), { ...target, desired }, { withCredentials: true });
  }

  /** A bulk as it stands now (`GET /commands/bulk/{id}`, either kind). */
  get(bulkId: string): Observable<BulkCommandView> {
    return this.http.get<BulkCommandView>(apiUrl(`/commands/bulk/${encodeURIComponent(bulkId)}`), {
      withCredentials: true,
    });
  }
}
