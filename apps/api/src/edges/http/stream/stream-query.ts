import { DEVICE_EVENT_NAMES, type DeviceEventName, isDeviceEventName, isDeviceId } from '@iot/protocol';

/** What a client asked the stream for: `?devices=`, `?events=` and where to resume. */
export interface StreamFilters {
  deviceIds?: ReadonlySet<string>;
  types?: ReadonlySet<DeviceEventName>;
}

function csv(value: string | undefined): string[] | undefined {
  if (value === undefined || value === '') return undefined;
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

/**
 * Validates `?devices=` and `?events=` (docs/protocol.md §4), for the
 * controller and for the route served before Express alike; a string is the
 * 400's message.
 */
export function parseStreamFilters(devices: unknown, events: unknown): StreamFilters | string {
  if (devices !== undefined && typeof devices !== 'string')
    return 'devices may be given once, as a comma-separated list';
  if (events !== undefined && typeof events !== 'string') return 'events may be given once, as a comma-separated list';
  const deviceIds = csv(devices);
  if (deviceIds && (deviceIds.length > 1000 || !deviceIds.every(isDeviceId))) {
    return 'devices must be a comma-separated list of at most 1000 device ids';
  }
  const types = csv(events);
  if (types && !types.every(isDeviceEventName)) {
    return `events may list ${DEVICE_EVENT_NAMES.join(', ')}`;
  }
  return { deviceIds: deviceIds && new Set(deviceIds), types: types && new Set(types as DeviceEventName[]) };
}

/** The Last-Event-ID header wins over `?lastEventId=`; empty means none. */
export function lastEventIdOf(header: string | undefined, query: string | undefined): string | undefined {
  return header || query || undefined;
}
