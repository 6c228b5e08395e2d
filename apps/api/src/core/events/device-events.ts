import type { CommandEvent, StatusEvent } from '@iot/protocol';
import { type NewEvent, telemetryEvent } from '../../storage/storage';

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
} as const;
