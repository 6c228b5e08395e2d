import { HttpClient, HttpParams } from '@angular/common/http';
import { inject, Injectable } from '@angular/core';
import type {
  CommandListResponse,
  CommandWithHistoryView,
  DeviceModel,
  DeviceModelView,
  DeviceStateView,
  DeviceView,
  LatestValues,
} from '@iot/protocol';
import type { Observable } from 'rxjs';
import { apiUrl } from '../api-url';

const deviceUrl = (id: string) => apiUrl(`/devices/${encodeURIComponent(id)}`);

/** One device's part of the REST api: details, latest values, commands, state. */
@Injectable({ providedIn: 'root' })
export class DeviceApi {
  private readonly http = inject(HttpClient);

  device(id: string): Observable<DeviceView> {
    return this.http.get<DeviceView>(deviceUrl(id), { withCredentials: true });
  }

  latest(id: string): Observable<LatestValues> {
    return this.http.get<LatestValues>(`${deviceUrl(id)}/telemetry/latest`, { withCredentials: true });
  }

  commands(id: string, limit = 50, cursor?: string): Observable<CommandListResponse> {
    let params = new HttpParams().set('limit', limit);
    if (cursor) params = params.set('cursor', cursor);
    return this.http.get<CommandListResponse>(`${deviceUrl(id)}/commands`, { params, withCredentials: true });
  }

  /** One command with its transitions (`GET /commands/{commandId}`). */
  command(commandId: string): Observable<CommandWithHistoryView> {
    return this.http.get<CommandWithHistoryView>(apiUrl(`/commands/${encodeURIComponent(commandId)}`), {
      withCredentials: true,
    });
  }

  /** The device's model (null when it has none) and its telemetry misfits. */
  model(id: string): Observable<DeviceModelView> {
    return this.http.get<DeviceModelView>(`${deviceUrl(id)}/model`, { withCredentials: true });
  }

  /** One version of a model from the catalogue (`GET /models/{id}/versions/{version}`). */
  modelVersion(id: string, version: number): Observable<DeviceModel> {
    return this.http.get<DeviceModel>(apiUrl(`/models/${encodeURIComponent(id)}/versions/${version}`), {
      withCredentials: true,
    });
  }

  state(id: string): Observable<DeviceStateView> {
    return this.http.get<DeviceStateView>(`${deviceUrl(id)}/state`, { withCredentials: true });
  }
}
