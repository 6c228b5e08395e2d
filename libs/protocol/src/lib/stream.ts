import * as z from 'zod';
import { alarmEventSchema } from './alarms';
import { commandStatusSchema, jsonObjectSchema } from './messages';
import { telemetryValuesSchema } from './telemetry';

/**
 * Server-Sent Events at `GET /api/v1/stream`. Each event carries an `id`
 * (for `Last-Event-ID` resume), an `event` name and one line of JSON `data`.
 */
export const telemetryEventSchema = z.object({
  deviceId: z.string(),
  ts: z.number(),
  /** Keys whose values do not fit the device's model (stored all the same); absent when all fit. */
  misfits: z.array(z.string()).optional(),
  values: telemetryValuesSchema,
});

export const statusEventSchema = z.object({
  deviceId: z.string(),
  online: z.boolean(),
  ts: z.number(),
});

export const stateEventSchema = z.object({
  deviceId: z.string(),
  reported: jsonObjectSchema.optional(),
  desired: jsonObjectSchema.optional(),
  version: z.number(),
  ts: z.number(),
});

export const commandEventSchema = z.object({
  commandId: z.string(),
  deviceId: z.string(),
  name: z.string(),
  status: commandStatusSchema,
  result: z.unknown().optional(),
  error: z.string().optional(),
  /** With `in-progress`: how far along the device is, in percent, as it last said. */
  progress: z.number().optional(),
  ts: z.number(),
});

export const resetEventSchema = z.object({ reason: z.string() });

/** Event name → its data schema. */
export const streamEventSchemas = {
  telemetry: telemetryEventSchema,
  status: statusEventSchema,
  state: stateEventSchema,
  command: commandEventSchema,
  alarm: alarmEventSchema,
  reset: resetEventSchema,
} as const;

export type StreamEventName = keyof typeof streamEventSchemas;
/** Event name → the type of its data. */
export type StreamEventMap = { [K in StreamEventName]: z.infer<(typeof streamEventSchemas)[K]> };
export type TelemetryEvent = StreamEventMap['telemetry'];
export type StatusEvent = StreamEventMap['status'];
export type StateEvent = StreamEventMap['state'];
export type CommandEvent = StreamEventMap['command'];

/** Events about a device, which the `events=` filter may select. */
export const DEVICE_EVENT_NAMES = ['telemetry', 'status', 'state', 'command', 'alarm'] as const;
export type DeviceEventName = (typeof DEVICE_EVENT_NAMES)[number];

export function isDeviceEventName(value: string): value is DeviceEventName {
  return (DEVICE_EVENT_NAMES as readonly string[]).includes(value);
}

/** The SSE endpoint, relative to the API base path. */
export const STREAM_PATH = '/stream';
/** The stream sends a comment at least this often. */
export const STREAM_HEARTBEAT_MS = 15_000;
