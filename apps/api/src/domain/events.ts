import type { AlarmEvent, CommandEvent, DeviceEventName, StatusEvent, TelemetryValues } from '@iot/protocol';

const VALUES_KEY = '"values":';

/**
 * The event a telemetry entry becomes, the contract's `{deviceId, ts, values}`,
 * serialised once: the history row stores the values' JSON, a slice of it
 * (`valuesJsonOf`), so the event needs nothing else to be stored. `valuesJson`,
 * the values as the device sent them (TelemetryEntry), is used as it is.
 * (`deviceEvents.telemetry`; kept under this name for storage and its tests.)
 */
export function telemetryEvent(
  deviceId: string,
  ts: number,
  values: TelemetryValues,
  valuesJson?: string,
  misfits?: string[],
): NewEvent {
  // `values` last: valuesJsonOf finds it by its key (an array of key names before it cannot hold `"values":`).
  const flagged = misfits === undefined ? '' : `"misfits":${JSON.stringify(misfits)},`;
  const data = `{"deviceId":${JSON.stringify(deviceId)},"ts":${ts},${flagged}"values":${valuesJson ?? JSON.stringify(values)}}`;
  return { type: 'telemetry', deviceId, ts, data };
}

/**
 * Device events as the log stores them and the SSE stream sends them: each
 * one's `data` is its protocol event (StreamEventMap) as JSON, made here and
 * only here, once for the log and every subscriber. Documents that were
 * already serialised (the values as the device sent them, a state document
 * whose size was just checked) are spliced in, not serialised again.
 */
export const deviceEvents = {
  /** `telemetry`: `valuesJson`, when given, is the values' JSON as the device sent them (TelemetryEntry). */
  telemetry: telemetryEvent,

  /** `status`: it also records the presence on the device when stored. */
  status(deviceId: string, online: boolean, ts: number): NewEvent {
    const event: StatusEvent = { deviceId, online, ts };
    return { type: 'status', deviceId, ts, online, data: JSON.stringify(event) };
  },

  /** `state`: one document changed, given as its JSON (`documentJson`), at `version` of the desired state. */
  state(deviceId: string, document: 'reported' | 'desired', documentJson: string, version: number, ts: number): NewEvent {
    const data = `{"deviceId":${JSON.stringify(deviceId)},"${document}":${documentJson},"version":${version},"ts":${ts}}`;
    return { type: 'state', deviceId, ts, data };
  },

  /** `command`: a transition. */
  command(update: CommandEvent): NewEvent {
    return { type: 'command', deviceId: update.deviceId, ts: update.ts, data: JSON.stringify(update) };
  },

  /** `alarm`: a transition of an alarm. */
  alarm(event: AlarmEvent): NewEvent {
    return { type: 'alarm', deviceId: event.deviceId, ts: event.ts, data: JSON.stringify(event) };
  },
} as const;

/**
 * The values' JSON in the data of an event made by `telemetryEvent`: after the
 * first `"values":` (the device id before it holds no quote) to the last
 * brace. Undefined for data of another shape, which then has no history row.
 */
export function valuesJsonOf(data: string): string | undefined {
  const at = data.indexOf(VALUES_KEY);
  return at === -1 || !data.endsWith('}') ? undefined : data.slice(at + VALUES_KEY.length, -1);
}

/** An event on its way into the log; `data` is its JSON, serialised once. */
export interface NewEvent {
  type: DeviceEventName;
  deviceId: string;
  ts: number;
  data: string;
  /** Set on status events: the presence to record on the device. */
  online?: boolean;
}

/** An event as stored: its place in the log is `seq`. */
export interface StoredEvent {
  seq: number;
  type: DeviceEventName;
  deviceId: string;
  data: string;
}

export interface EventFilter {
  deviceIds?: ReadonlySet<string>;
  types?: ReadonlySet<DeviceEventName>;
}

/** The log's bounds: events with seq ≤ `prunedThrough` are gone; `last` is the newest seq. */
export interface EventBounds {
  prunedThrough: number;
  last: number;
}

/**
 * The event log as stored. Appending an event also records what it says:
 * a telemetry event's history row and latest values, a status event's
 * presence, every event's device's last-seen time.
 */
export abstract class EventRepository {
  /** A random id made when the database was created: part of every event id. */
  abstract readonly epoch: string;
  /**
   * Stores a batch of events in one transaction, with their history rows,
   * latest values and presence, and returns them numbered in log order.
   * A batch may be given before the one before it has settled: batches are
   * stored in the order given, and once one fails, every batch given after
   * it until its rejection is seen fails too, so that none is stored ahead
   * of it when the caller gives them again.
   */
  abstract append(events: NewEvent[]): Promise<StoredEvent[]>;
  /**
   * Events after `seq`, in order, at most `limit`; with `maxBytes`, the page
   * ends after the event whose `data` brings it to that many characters.
   */
  abstract eventsAfter(seq: number, filter: EventFilter, limit: number, maxBytes?: number): Promise<StoredEvent[]>;
  abstract bounds(): Promise<EventBounds>;
  /** Removes events older than `before` (epoch ms), at most `batch` rows; returns how many. */
  abstract prune(before: number, batch: number): Promise<number>;
}
