import { HttpClient, HttpParams } from '@angular/common/http';
import { inject, Injectable } from '@angular/core';
import type {
  AlarmListResponse,
  AlarmRuleListResponse,
  AlarmRuleRequest,
  AlarmRuleView,
  AlarmSeverity,
  AlarmStatus,
  AlarmView,
  AlarmWithHistory,
  ModelListResponse,
} from '@iot/protocol';
import { MAX_ALARM_NOTE } from '@iot/protocol';
import { map, type Observable } from 'rxjs';
import { apiUrl } from '../api-url';

export const ALARMS_URL = apiUrl('/alarms');
export const ALARM_RULES_URL = apiUrl('/alarm-rules');
export const MODELS_URL = apiUrl('/models');
/** The api's largest page of alarms. */
export const ALARM_PAGE_SIZE = 500;
export const alarmUrl = (id: string) => `${ALARMS_URL}/${encodeURIComponent(id)}`;
export const alarmRuleUrl = (id: string) => `${ALARM_RULES_URL}/${encodeURIComponent(id)}`;

/** `GET /alarms` filters; absent ones are left out of the query. */
export interface AlarmFilter {
  status?: AlarmStatus;
  /** Raised or acknowledged. */
  active?: boolean;
  severity?: AlarmSeverity;
  deviceId?: string;
  ruleId?: string;
}

export function alarmParams(filter: AlarmFilter, limit = ALARM_PAGE_SIZE, cursor?: string | null): HttpParams {
  let params = new HttpParams().set('limit', limit);
  if (filter.status) params = params.set('status', filter.status);
  if (filter.active !== undefined) params = params.set('active', String(filter.active));
  if (filter.severity) params = params.set('severity', filter.severity);
  const deviceId = filter.deviceId?.trim();
  if (deviceId) params = params.set('deviceId', deviceId.slice(0, 64));
  const ruleId = filter.ruleId?.trim();
  if (ruleId) params = params.set('ruleId', ruleId.slice(0, 64));
  if (cursor) params = params.set('cursor', cursor);
  return params;
}

/** A note as the api takes it: trimmed, bounded, left out when empty. */
function noteBody(note: string | undefined): { note?: string } {
  const text = note?.trim().slice(0, MAX_ALARM_NOTE);
  return text ? { note: text } : {};
}

/** Alarms and alarm rules (§3.5), and the model catalogue the rule form picks from. */
@Injectable({ providedIn: 'root' })
export class AlarmsApi {
  private readonly http = inject(HttpClient);

  list(filter: AlarmFilter = {}, cursor?: string | null, limit = ALARM_PAGE_SIZE): Observable<AlarmListResponse> {
    return this.http.get<AlarmListResponse>(ALARMS_URL, {
      params: alarmParams(filter, limit, cursor),
      withCredentials: true,
    });
  }

  alarm(id: string): Observable<AlarmWithHistory> {
    return this.http.get<AlarmWithHistory>(alarmUrl(id), { withCredentials: true });
  }

  /** 409 when the alarm is not raised. */
  acknowledge(id: string, note?: string): Observable<AlarmView> {
    return this.http.post<AlarmView>(`${alarmUrl(id)}/acknowledge`, noteBody(note), { withCredentials: true });
  }

  /** 409 when the alarm is already cleared. */
  clear(id: string, note?: string): Observable<AlarmView> {
    return this.http.post<AlarmView>(`${alarmUrl(id)}/clear`, noteBody(note), { withCredentials: true });
  }

  rules(): Observable<AlarmRuleView[]> {
    return this.http
      .get<AlarmRuleListResponse>(ALARM_RULES_URL, { withCredentials: true })
      .pipe(map((answer) => answer.items));
  }

  createRule(rule: AlarmRuleRequest): Observable<AlarmRuleView> {
    return this.http.post<AlarmRuleView>(ALARM_RULES_URL, rule, { withCredentials: true });
  }

  updateRule(id: string, rule: AlarmRuleRequest): Observable<AlarmRuleView> {
    return this.http.put<AlarmRuleView>(alarmRuleUrl(id), rule, { withCredentials: true });
  }

  removeRule(id: string): Observable<void> {
    return this.http.delete(alarmRuleUrl(id), { withCredentials: true }).pipe(map(() => undefined));
  }

  /** The first page of the model catalogue (its largest: 1000 models), each at its newest version. */
  models(): Observable<ModelListResponse> {
    return this.http.get<ModelListResponse>(MODELS_URL, {
      params: new HttpParams().set('limit', 1000),
      withCredentials: true,
    });
  }
}
