import * as z from 'zod';
import { sendCommandSchema } from './api';
import { commandEventSchema } from './stream';
import { DEVICE_ID_PATTERN } from './limits';
import { statePatchSchema } from './state';

/**
 * WebSocket frames at `GET /api/v1/ws`: JSON text `{"event": …, "data": {…}}`.
 * Every client request carries a `requestId` and gets exactly one direct reply.
 */
const requestIdSchema = z.string().min(1).max(128);
const deviceIdSchema = z.string().regex(DEVICE_ID_PATTERN, 'invalid device id');

/** The REST command body, for the device named in the frame. */
export const commandSendSchema = z.object({
  requestId: requestIdSchema,
  deviceId: deviceIdSchema,
  ...sendCommandSchema.shape,
});

export const commandCancelSchema = z.object({
  requestId: requestIdSchema,
  commandId: z.string().min(1).max(64),
});

export const stateDesiredSetSchema = z.object({
  requestId: requestIdSchema,
  deviceId: deviceIdSchema,
  patch: statePatchSchema,
  expectedVersion: z.number().int().nonnegative().optional(),
});

/** Client → server event name → data schema. */
export const clientFrameSchemas = {
  'command.send': commandSendSchema,
  'command.cancel': commandCancelSchema,
  'state.desired.set': stateDesiredSetSchema,
} as const;
export type ClientFrameName = keyof typeof clientFrameSchemas;
export type ClientFrameMap = { [K in ClientFrameName]: z.infer<(typeof clientFrameSchemas)[K]> };

/**
 * Whether `event` names a client → server frame. Own keys only: `constructor`,
 * `__proto__` or `toString` are names every object inherits, not events.
 */
export function isClientFrameName(event: string): event is ClientFrameName {
  return Object.prototype.hasOwnProperty.call(clientFrameSchemas, event);
}

export const errorCodeSchema = z.enum([
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'rate_limited',
  'internal',
]);
export type ErrorCode = z.infer<typeof errorCodeSchema>;

/**
 * The `error` frame code for an HTTP status, so that a request answered over
 * REST and one answered over the WebSocket fail with the same code.
 */
export function errorCodeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
    case 412:
      return 'conflict';
    case 429:
      return 'rate_limited';
    default:
      return status >= 400 && status < 500 ? 'bad_request' : 'internal';
  }
}

/** Server → client event name → data schema. */
export const serverFrameSchemas = {
  /** A command event, plus the `requestId` of the `command.send` that made it. */
  'command.status': commandEventSchema.extend({ requestId: z.string().optional() }),
  'state.result': z.object({ requestId: z.string(), deviceId: z.string(), version: z.number() }),
  error: z.object({ requestId: z.string().optional(), code: errorCodeSchema, message: z.string() }),
} as const;
export type ServerFrameName = keyof typeof serverFrameSchemas;
export type ServerFrameMap = { [K in ServerFrameName]: z.infer<(typeof serverFrameSchemas)[K]> };

/** Whether `event` names a server → client frame (own keys only, as `isClientFrameName`). */
export function isServerFrameName(event: string): event is ServerFrameName {
  return Object.prototype.hasOwnProperty.call(serverFrameSchemas, event);
}

/** The envelope of every frame, both ways. */
export const frameEnvelopeSchema = z.object({ event: z.string().min(1).max(64), data: z.unknown() });
export interface Frame<K extends string, D> {
  event: K;
  data: D;
}

/** WebSocket close codes the server uses. */
export const WS_CLOSE = {
  unsupportedData: 1003,
  policyViolation: 1008,
  messageTooBig: 1009,
  /** The client does not read its replies (too many bytes queued for it). */
  tryAgainLater: 1013,
} as const;

export const SOCKET_PATH = '/ws';
