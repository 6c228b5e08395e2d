import * as z from 'zod';
import {
  type ApiError,
  type BrokerInfo,
  type CreateDeviceResponse,
  type DeviceCredentials,
  type DeviceListResponse,
  type DeviceView,
  type LatestValues,
  type LoginResponse,
  type TelemetrySeriesResponse,
  type UserView,
  roleSchema,
  telemetryAggregationSchema,
} from './api';
import { commandStatusSchema, jsonObjectSchema } from './messages';
import { telemetryValueSchema } from './telemetry';

/**
 * The HTTP API's answers as zod schemas, for the OpenAPI document and the
 * types the api returns and the console reads. A schema either `satisfies` an
 * interface of api.ts, so a field added to one and not the other fails to
 * compile, or is the source of its type (`z.infer`).
 */

/** The error body of every 4xx and 5xx answer. */
export const apiErrorSchema = z.object({
  statusCode: z.number().int(),
  error: z.string(),
  message: z.string(),
}) satisfies z.ZodType<ApiError>;

export const userViewSchema = z.object({
  username: z.string(),
  role: roleSchema,
  scope: z.string().nullable().describe('A label selector limiting the devices the user sees, or null for all'),
}) satisfies z.ZodType<UserView>;

export const loginResponseSchema = z.object({
  accessToken: z.string(),
  expiresIn: z.number().int().describe('Seconds until the token expires'),
  user: userViewSchema,
}) satisfies z.ZodType<LoginResponse>;

const labelsSchema = z.record(z.string(), z.string());

export const deviceViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string().nullable(),
  labels: labelsSchema,
  online: z.boolean(),
  lastSeen: z.number().nullable().describe('Epoch ms of the last message or connect, or null if never seen'),
  createdAt: z.number(),
}) satisfies z.ZodType<DeviceView>;

export const latestValuesSchema = z
  .record(z.string(), z.object({ ts: z.number(), value: telemetryValueSchema }))
  .describe('The latest value of each telemetry key') satisfies z.ZodType<LatestValues>;

export const deviceListResponseSchema = z.object({
  items: z.array(
    deviceViewSchema.pick({ id: true, name: true, type: true, labels: true, online: true, lastSeen: true }).extend({
      model: z.object({ id: z.string(), version: z.int() }).nullable().describe('The model the device has, or null'),
      latest: latestValuesSchema,
      alarms: z.number().int().describe('Its open (raised or acknowledged) alarms'),
    }),
  ),
  nextCursor: z.string().nullable(),
}) satisfies z.ZodType<DeviceListResponse>;

export const deviceCredentialsSchema = z.object({
  username: z.string(),
  password: z.string().describe('The device secret: shown once'),
}) satisfies z.ZodType<DeviceCredentials>;

export const createDeviceResponseSchema = z.object({
  device: deviceViewSchema,
  credentials: deviceCredentialsSchema,
}) satisfies z.ZodType<CreateDeviceResponse>;

export const brokerInfoSchema = z.object({
  url: z.string(),
  derived: z.boolean(),
}) satisfies z.ZodType<BrokerInfo>;

export const telemetrySeriesResponseSchema = z.object({
  deviceId: z.string(),
  series: z
    .record(z.string(), z.array(z.tuple([z.number(), telemetryValueSchema])))
    .describe('Per key, [ts, value] pairs'),
  from: z.number().optional(),
  to: z.number().optional(),
  bucketMs: z.number().optional(),
  agg: telemetryAggregationSchema.optional(),
}) satisfies z.ZodType<TelemetrySeriesResponse>;

/** `POST /devices/{id}/commands` without `?wait=true`. */
export const commandAcceptedSchema = z.object({ commandId: z.string(), status: commandStatusSchema });
export type CommandAccepted = z.infer<typeof commandAcceptedSchema>;

/** A command as the HTTP API shows it. */
export const commandViewSchema = z.object({
  commandId: z.string(),
  deviceId: z.string(),
  name: z.string(),
  params: jsonObjectSchema,
  status: commandStatusSchema,
  result: z.unknown().optional(),
  error: z.string().optional(),
  /** With `in-progress`: how far along the device is, in percent, as it last said. */
  progress: z.number().optional(),
  timeoutMs: z.number(),
  issuedAt: z.number(),
  expiresAt: z.number(),
  sentAt: z.number().nullable(),
  updatedAt: z.number(),
  createdBy: z.string(),
});
export type CommandView = z.infer<typeof commandViewSchema>;

export const commandTransitionSchema = z.object({
  status: commandStatusSchema,
  ts: z.number(),
  by: z.string().optional().describe('A username; absent for the device and the platform'),
});
/** One step of a command's life: its new status, when, and who caused it. */
export type CommandTransition = z.infer<typeof commandTransitionSchema>;

export const commandWithHistorySchema = commandViewSchema.extend({ transitions: z.array(commandTransitionSchema) });
export type CommandWithHistoryView = z.infer<typeof commandWithHistorySchema>;

export const commandListResponseSchema = z.object({
  items: z.array(commandWithHistorySchema),
  nextCursor: z.string().nullable(),
});
/** `GET /devices/{id}/commands`: newest first, one page. */
export type CommandListResponse = z.infer<typeof commandListResponseSchema>;

export const deviceStateViewSchema = z.object({
  reported: jsonObjectSchema,
  desired: jsonObjectSchema,
  delta: jsonObjectSchema.describe('Every key where desired differs from reported'),
  version: z.number().int(),
  reportedAt: z.number().nullable(),
  desiredAt: z.number().nullable(),
});
/** `GET /devices/{id}/state`: the documents, their difference and the desired version. */
export type DeviceStateView = z.infer<typeof deviceStateViewSchema>;

export const stateVersionSchema = z.object({ version: z.number().int() });
export type StateVersion = z.infer<typeof stateVersionSchema>;

/** `GET /healthz`: the process answers. */
export const healthResponseSchema = z.object({ status: z.literal('ok') });
export type HealthResponse = z.infer<typeof healthResponseSchema>;

/** `GET /readyz` when ready: the broker and the database each answered. */
export const readyResponseSchema = z.object({ status: z.literal('ok'), broker: z.string(), database: z.string() });
export type ReadyResponse = z.infer<typeof readyResponseSchema>;

export const auditEntrySchema = z.object({
  id: z.number(),
  ts: z.number(),
  actor: z.string().nullable().describe('The username, or the one a failed login claimed'),
  action: z.string().describe('Such as device.create, command.send, auth.login'),
  target: z.string().nullable().describe('A device id, a username, a command id'),
  outcome: z.enum(['ok', 'refused', 'failed']),
  address: z.string().nullable(),
  detail: z.string().nullable().describe('A short note: a command name, the fields changed; never a secret'),
});
export type AuditEntryView = z.infer<typeof auditEntrySchema>;

export const auditListResponseSchema = z.object({
  items: z.array(auditEntrySchema),
  nextCursor: z.string().nullable(),
});
/** `GET /audit`: newest first, one page. */
export type AuditListResponse = z.infer<typeof auditListResponseSchema>;

export const bulkCommandViewSchema = z.object({
  bulkId: z.string(),
  /** `command`: one command each; `desired`: one merge patch of the desired state each. */
  kind: z.enum(['command', 'desired']),
  /** The command's name; for a desired-state patch, its top-level properties. */
  name: z.string(),
  createdBy: z.string(),
  createdAt: z.number(),
  /** What it was sent to: `devices` or the label selector. */
  target: z.string(),
  items: z.array(
    z.object({
      deviceId: z.string(),
      /** Null when the command was refused for this device (see error). */
      commandId: z.string().nullable(),
      /** A command's status; for a desired-state patch, `succeeded` once stored. Null when refused. */
      status: commandStatusSchema.nullable(),
      /** For a desired-state patch, the device's desired version after it. */
      version: z.number().nullable(),
      error: z.string().nullable(),
    }),
  ),
  /** Commands by status, and `refused`: devices it could not be sent to. */
  counts: z.record(z.string(), z.number()),
});
/** `POST /commands/bulk`, `POST /state/bulk` and `GET …/bulk/{bulkId}`: each device's outcome and where it stands. */
export type BulkCommandView = z.infer<typeof bulkCommandViewSchema>;
