import { HttpClient, HttpParams } from '@angular/common/http';
import { inject, Injectable } from '@angular/core';
import type { CommandStatus, DeviceView, JsonObject, LatestValues } from '@iot/protocol';
import type { Observable } from 'rxjs';
import { apiUrl } from '../api-url';

export interface CommandTransition {
  status: CommandStatus;
  ts: number;
  /** A username, or absent for the device and the platform's timers. */
  by?: string;
}

/** One command as `GET /devices/{id}/commands` returns it. */
export interface CommandRecord {
  commandId: string;
  deviceId: string;
  name: string;
  params: JsonObject;
  status: CommandStatus;
  result?: unknown;
  error?: string;
  issuedAt: number;
  createdBy: string;
  transitions: CommandTransition[];
}

export interface CommandPage {
  items: CommandRecord[];
  nextCursor: string | null;
}

/** `GET /devices/{id}/state`. */
export interface DeviceStateView {
  reported: JsonObject;
  desired: JsonObject;
  delta: JsonObject;
  version: number;
  reportedAt: number | null;
  desiredAt: number | null;
}

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

  commands(id: string, limit = 50, cursor?: string): Observable<CommandPage> {
    let params = new HttpParams().set('limit', limit);
    if (cursor) params = params.set('cursor', cursor);
    return this.http.get<CommandPage>(`${deviceUrl(id)}/commands`, { params, withCredentials: true });
  }

  /** One command with its transitions (`GET /commands/{commandId}`). */
  command(commandId: string): Observable<CommandRecord> {
    return this.http.get<CommandRecord>(apiUrl(`/commands/${encodeURIComponent(commandId)}`), {
      withCredentials: true,
    });
  }

  state(id: string): Observable<DeviceStateView> {
    return this.http.get<DeviceStateView>(`${deviceUrl(id)}/state`, { withCredentials: true });
  }
}
