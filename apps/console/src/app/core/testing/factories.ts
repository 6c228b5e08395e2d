import type { AlarmEvent, AlarmView, DeviceListItem, LoginResponse, UserView } from '@iot/protocol';
import type { StreamMessage } from '../stream/stream.service';

/** A device as the list endpoint returns it. */
export function aDevice(overrides: Partial<DeviceListItem> & Pick<DeviceListItem, 'id'>): DeviceListItem {
  return {
    name: `Device ${overrides.id}`,
    type: 'sensor',
    labels: {},
    online: true,
    lastSeen: 1_000,
    model: null,
    latest: {},
    alarms: 0,
    ...overrides,
  };
}

export function aUser(overrides: Partial<UserView> = {}): UserView {
  return { username: 'ada', role: 'operator', scope: null, ...overrides };
}

export function aLoginResponse(overrides: Partial<LoginResponse> = {}): LoginResponse {
  return { accessToken: 'secret.jwt.token', expiresIn: 3600, user: aUser(), ...overrides };
}

export function telemetryMessage(
  deviceId: string,
  ts: number,
  values: Record<string, number | boolean | string>,
  id = '',
): StreamMessage {
  return { event: 'telemetry', id, data: { deviceId, ts, values } };
}

export function statusMessage(deviceId: string, online: boolean, ts: number, id = ''): StreamMessage {
  return { event: 'status', id, data: { deviceId, online, ts } };
}

export function resetMessage(reason = 'resume point is gone'): StreamMessage {
  return { event: 'reset', id: '', data: { reason } };
}

/** An alarm as `GET /alarms` returns it. */
export function anAlarm(overrides: Partial<AlarmView> & Pick<AlarmView, 'id'>): AlarmView {
  return {
    ruleId: 'rule-1',
    ruleName: 'too hot',
    deviceId: 'boiler-1',
    severity: 'major',
    status: 'raised',
    message: 'temperature 25 above 24 for 10 s',
    raisedAt: 1_000,
    acknowledgedAt: null,
    acknowledgedBy: null,
    clearedAt: null,
    clearedBy: null,
    ...overrides,
  };
}

/** An `alarm` stream event for one transition. */
export function alarmMessage(
  alarmId: string,
  status: AlarmEvent['status'],
  overrides: Partial<AlarmEvent> = {},
  id = '',
): StreamMessage {
  return {
    event: 'alarm',
    id,
    data: {
      alarmId,
      ruleId: 'rule-1',
      ruleName: 'too hot',
      deviceId: 'boiler-1',
      severity: 'major',
      status,
      message: 'temperature 25 above 24 for 10 s',
      ts: 2_000,
      ...overrides,
    },
  };
}
