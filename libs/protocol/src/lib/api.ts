import * as z from 'zod';
import { DEVICE_ID_PATTERN, TELEMETRY_KEY_PATTERN } from './limits';
import { timeSchema } from './time';
import type { TelemetryValue } from './telemetry';

/** The HTTP API's base path. */
export const API_BASE_PATH = '/api/v1';

/** Roles, each including the one before it. */
export const roleSchema = z.enum(['viewer', 'operator', 'admin']);
export type Role = z.infer<typeof roleSchema>;
const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
/** Whether a user with `role` may do what `required` allows. */
export function roleAtLeast(role: Role, required: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[required];
}

export const usernameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/, 'usernames are 1-64 letters, digits, or _ . @ -');

export const loginRequestSchema = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(256),
});
export type LoginRequest = z.infer<typeof loginRequestSchema>;

export interface UserView {
  username: string;
  role: Role;
}

export interface LoginResponse {
  accessToken: string;
  /** Seconds until the token expires. */
  expiresIn: number;
  user: UserView;
}

export const createUserSchema = z.object({
  username: usernameSchema,
  password: z.string().min(8, 'passwords need at least 8 characters').max(256),
  role: roleSchema,
});
export const updateUserSchema = z
  .object({
    password: z.string().min(8, 'passwords need at least 8 characters').max(256).optional(),
    role: roleSchema.optional(),
  })
  .refine((u) => u.password !== undefined || u.role !== undefined, 'give a password or a role');

const labelsSchema = z
  .record(z.string().regex(/^[A-Za-z0-9_./-]{1,63}$/, 'label keys are 1-63 of A-Z a-z 0-9 _ . / -'), z.string().max(256))
  .refine((l) => Object.keys(l).length <= 64, 'at most 64 labels');

export const deviceIdSchema = z
  .string()
  .regex(DEVICE_ID_PATTERN, 'device ids are 1-64 letters, digits, _ or -, starting with a letter or digit');

export const createDeviceSchema = z.object({
  id: deviceIdSchema.optional(),
  name: z.string().trim().min(1).max(128),
  type: z.string().trim().min(1).max(64).optional(),
  labels: labelsSchema.optional(),
});
export type CreateDeviceRequest = z.infer<typeof createDeviceSchema>;

export const updateDeviceSchema = z
  .object({
    name: z.string().trim().min(1).max(128).optional(),
    type: z.string().trim().min(1).max(64).nullable().optional(),
    labels: labelsSchema.optional(),
  })
  .refine((d) => Object.keys(d).length > 0, 'give at least one of name, type, labels');
export type UpdateDeviceRequest = z.infer<typeof updateDeviceSchema>;

const booleanQuery = z.enum(['true', 'false']).transform((v) => v === 'true');

export const listDevicesQuerySchema = z.object({
  q: z.string().max(128).optional(),
  type: z.string().max(64).optional(),
  online: booleanQuery.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(256).optional(),
});
export type ListDevicesQuery = z.infer<typeof listDevicesQuerySchema>;

/** The latest value of each telemetry key. */
export type LatestValues = Record<string, { ts: number; value: TelemetryValue }>;

export interface DeviceView {
  id: string;
  name: string;
  type: string | null;
  labels: Record<string, string>;
  online: boolean;
  /** Epoch ms of the last message or connect, or null if never seen. */
  lastSeen: number | null;
  createdAt: number;
}

export interface DeviceListItem extends Pick<DeviceView, 'id' | 'name' | 'type' | 'online' | 'lastSeen'> {
  labels: Record<string, string>;
  latest: LatestValues;
}

export interface DeviceListResponse {
  items: DeviceListItem[];
  nextCursor: string | null;
}

export interface DeviceCredentials {
  username: string;
  password: string;
}

export interface CreateDeviceResponse {
  device: DeviceView;
  credentials: DeviceCredentials;
}

const keysQuery = z
  .string()
  .transform((s) => s.split(',').map((k) => k.trim()).filter((k) => k.length > 0))
  .pipe(z.array(z.string().regex(TELEMETRY_KEY_PATTERN, 'invalid telemetry key')).max(100));

/** `GET /devices/{id}/telemetry` (raw points). */
export const telemetryQuerySchema = z
  .object({
    keys: keysQuery.optional(),
    from: timeSchema.optional(),
    to: timeSchema.optional(),
    limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
    order: z.enum(['asc', 'desc']).default('asc'),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, '"from" must be before "to"');
export type TelemetryQuery = z.infer<typeof telemetryQuerySchema>;

export interface TelemetrySeriesResponse {
  deviceId: string;
  series: Record<string, Array<[number, TelemetryValue]>>;
}

/** The error body of every 4xx and 5xx answer. */
export interface ApiError {
  statusCode: number;
  error: string;
  message: string;
}
