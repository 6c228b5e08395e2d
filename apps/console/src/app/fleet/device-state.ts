import type { DeviceListItem, StatusEvent, TelemetryEvent } from '@iot/protocol';

/** The part of a device that live events change. */
export type DeviceLiveState = Pick<DeviceListItem, 'online' | 'lastSeen' | 'latest'>;

/**
 * Merges one telemetry entry into a device's latest values. A key keeps its
 * newer value: devices may send timed or batched entries older than what is
 * shown, and such an entry must not overwrite it. `lastSeen` moves forward
 * only, to the entry's time but never past `now` (a device clock may run
 * ahead). Returns `state` itself when nothing changed.
 */
export function mergeTelemetry(state: DeviceLiveState, event: TelemetryEvent, now: number): DeviceLiveState {
  let latest: DeviceLiveState['latest'] | undefined;
  for (const [key, value] of Object.entries(event.values)) {
    const shown = state.latest[key];
    if (shown && (shown.ts > event.ts || (shown.ts === event.ts && shown.value === value))) continue;
    latest ??= { ...state.latest };
    latest[key] = { ts: event.ts, value };
  }
  const seen = Math.min(event.ts, now);
  const lastSeen = state.lastSeen === null ? seen : Math.max(state.lastSeen, seen);
  if (latest === undefined && lastSeen === state.lastSeen) return state;
  return { ...state, latest: latest ?? state.latest, lastSeen };
}

/**
 * Applies an online/offline change. Live events of one device arrive in
 * order, so they always apply; an event buffered while the list loaded may
 * predate the list, and applies only if it is not older than what the list
 * says (`onlyIfNewer`). Returns `state` itself when nothing changed.
 */
export function applyStatus(state: DeviceLiveState, event: StatusEvent, onlyIfNewer = false): DeviceLiveState {
  if (onlyIfNewer && state.lastSeen !== null && event.ts < state.lastSeen) return state;
  const lastSeen = state.lastSeen === null ? event.ts : Math.max(state.lastSeen, event.ts);
  if (state.online === event.online && lastSeen === state.lastSeen) return state;
  return { ...state, online: event.online, lastSeen };
}
