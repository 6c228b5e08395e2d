import * as z from 'zod';
import { COMMAND_NAME_PATTERN, LIMITS, utf8Length } from './limits';

/** `devices/{id}/status`: `online` or `offline` (retained; set `offline` as the will). */
export const deviceStatusSchema = z.enum(['online', 'offline']);
export type DeviceStatus = z.infer<typeof deviceStatusSchema>;

/** A JSON object (merge patches, state documents, command params). */
export const jsonObjectSchema = z.record(z.string(), z.unknown());
export type JsonObject = z.infer<typeof jsonObjectSchema>;

/** `devices/{id}/state/reported`: a JSON merge patch (RFC 7396) of the reported state. */
export const reportedStatePatchSchema = jsonObjectSchema;

/** `devices/{id}/state/desired` (retained): the whole desired document. */
export const desiredStateDocumentSchema = z.object({
  version: z.number().int().nonnegative(),
  state: jsonObjectSchema,
});
export type DesiredStateDocument = z.infer<typeof desiredStateDocumentSchema>;

export const commandNameSchema = z
  .string()
  .regex(COMMAND_NAME_PATTERN, 'command names must match ^[A-Za-z][A-Za-z0-9_.-]{0,63}$');

/** Command params: a JSON object of at most 64 KiB once serialised. */
export const commandParamsSchema = jsonObjectSchema.refine(
  (params) => utf8Length(JSON.stringify(params)) <= LIMITS.maxWsFrameBytes,
  `params may be at most ${LIMITS.maxWsFrameBytes} bytes`,
);

/** `devices/{id}/commands/{commandId}`: what the platform sends a device. */
export const commandMessageSchema = z.object({
  name: commandNameSchema,
  params: jsonObjectSchema,
  issuedAt: z.number(),
  expiresAt: z.number(),
});
export type CommandMessage = z.infer<typeof commandMessageSchema>;

/** Statuses a device may report on the result topic. */
export const commandResultStatusSchema = z.enum(['accepted', 'in-progress', 'succeeded', 'failed']);
export type CommandResultStatus = z.infer<typeof commandResultStatusSchema>;

/** `devices/{id}/commands/{commandId}/result`. */
export const commandResultSchema = z.object({
  status: commandResultStatusSchema,
  result: z.unknown().optional(),
  error: z.string().max(1024).optional(),
  /** With `in-progress`: how far along the device is, in percent. */
  progress: z.number().min(0).max(100).optional(),
  /** With `accepted` or `in-progress`: the device needs at most this long from now, ms; the platform waits that long. */
  timeoutMs: z.int().min(100).max(86_400_000).optional(),
});
export type CommandResult = z.infer<typeof commandResultSchema>;

/** Every status of a command on the platform. */
export const commandStatusSchema = z.enum([
  'pending',
  'sent',
  'accepted',
  'in-progress',
  'succeeded',
  'failed',
  'timed-out',
  'expired',
  'cancelled',
]);
export type CommandStatus = z.infer<typeof commandStatusSchema>;

/** How far along each status is: a device status at or below the current rank is a repeat. */
export const COMMAND_STATUS_RANK: Readonly<Record<CommandStatus, number>> = {
  pending: 0,
  sent: 1,
  accepted: 2,
  'in-progress': 3,
  succeeded: 4,
  failed: 4,
  'timed-out': 4,
  expired: 4,
  cancelled: 4,
};

export const TERMINAL_COMMAND_STATUSES: ReadonlySet<CommandStatus> = new Set<CommandStatus>([
  'succeeded',
  'failed',
  'timed-out',
  'expired',
  'cancelled',
]);

/** `devices/{id}/errors`: why the platform refused a message from this device. */
export const errorNoticeSchema = z.object({
  topic: z.string(),
  error: z.string(),
  ts: z.number(),
});
export type ErrorNotice = z.infer<typeof errorNoticeSchema>;
