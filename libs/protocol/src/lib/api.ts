import * as z from 'zod';
import { DEVICE_ID_PATTERN, TELEMETRY_KEY_PATTERN } from './limits';
import { commandNameSchema, commandParamsSchema } from './messages';
import { MODEL_ID_PATTERN, type ModelRef } from './model';
import { isJsonObject } from './state';
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
  /**
   * The devices the user is limited to: a label selector (`site=a`), or
   * null for every device. Admins are never limited.
   */
  scope: string | null;
}

export interface LoginResponse {
  accessToken: string;
  /** Seconds until the token expires. */
  expiresIn: number;
  user: UserView;
}

/** The least length of a person's password (users, and the first admin's ADMIN_PASSWORD). */
export const PASSWORD_MIN_LENGTH = 12;
const passwordSchema = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `passwords need at least ${PASSWORD_MIN_LENGTH} characters`)
  .max(256);

/** `POST /auth/password`: a user changes their own password. */
export const changePasswordSchema = z.object({
  currentPassword: z.string().min(1).max(256),
  newPassword: passwordSchema,
});
export type ChangePasswordRequest = z.infer<typeof changePasswordSchema>;


/** A label key, such as `site` or `app.kubernetes.io/part-of`. */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9_./-]{1,63}$/;

const labelsSchema = z
  .record(z.string().regex(LABEL_KEY_PATTERN, 'label keys are 1-63 of A-Z a-z 0-9 _ . / -'), z.string().max(256))
  .refine((l) => Object.keys(l).length <= 64, 'at most 64 labels');

/**
 * A label selector in a query: `site=a,floor=2` (every pair must match), at
 * most 16 pairs; a value may not hold a comma.
 */
export const labelSelectorSchema = z
  .string()
  .max(2048)
  .transform((text, ctx) => {
    const selector = new Map<string, string>();
    for (const pair of text.split(',')) {
      const at = pair.indexOf('=');
      const key = at < 0 ? pair : pair.slice(0, at);
      if (at < 0 || !LABEL_KEY_PATTERN.test(key) || selector.has(key)) {
        ctx.addIssue({ code: 'custom', message: 'a label selector is key=value pairs, each key once, joined by commas' });
        return z.NEVER;
      }
      selector.set(key, pair.slice(at + 1));
    }
    if (selector.size > 16) {
      ctx.addIssue({ code: 'custom', message: 'at most 16 labels in a selector' });
      return z.NEVER;
    }
    return selector;
  });

/** A label selector written back as text: its pairs in the order given, so equal selectors read the same. */
export function labelSelectorText(selector: ReadonlyMap<string, string>): string {
  return [...selector].map(([key, value]) => `${key}=${value}`).join(',');
}

/**
 * A user's scope: a label selector (`site=a,floor=2`) limiting the devices
 * the user sees and commands, or null for every device.
 */
export const userScopeSchema = labelSelectorSchema.transform(labelSelectorText).nullable();

export const createUserSchema = z.object({
  username: usernameSchema,
  password: passwordSchema,
  role: roleSchema,
  scope: userScopeSchema.optional(),
});

export const updateUserSchema = z
  .object({
    password: passwordSchema.optional(),
    role: roleSchema.optional(),
    scope: userScopeSchema.optional(),
  })
  .refine(
    (u) => u.password !== undefined || u.role !== undefined || u.scope !== undefined,
    'give a password, a role or a scope',
  );

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
  /** Devices whose labels hold every `key=value` given, such as `site=a,floor=2`. */
  labels: labelSelectorSchema.optional(),
  type: z.string().max(64).optional(),
  online: booleanQuery.optional(),
  /** Devices given this model (any version), by its id. */
  model: z.string().regex(MODEL_ID_PATTERN, 'model ids must match ^[a-z0-9][a-z0-9._-]{0,63}$').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(256).optional(),
});
export type ListDevicesQuery = z.infer<typeof listDevicesQuerySchema>;

/**
 * `POST /devices/{id}/commands`: the command to send. The WebSocket's
 * `command.send` frame is this body with a `requestId` and the `deviceId`.
 */
export const sendCommandSchema = z.object({
  name: commandNameSchema,
  params: commandParamsSchema.optional(),
  timeoutMs: z.number().int().min(100).max(86_400_000).optional(),
  ttlMs: z.number().int().min(0).max(30 * 86_400_000).optional(),
});
export type SendCommandRequest = z.infer<typeof sendCommandSchema>;

/** Devices one bulk command may go to, at most. */
export const MAX_BULK_DEVICES = 1000;

/**
 * `POST /commands/bulk`: one command to each of a list of devices, or to
 * every device whose labels match a selector (`site=a`); each gets its own.
 */
export const bulkCommandSchema = sendCommandSchema
  .extend({
    devices: z.array(deviceIdSchema).min(1).max(MAX_BULK_DEVICES).optional(),
    labels: labelSelectorSchema.optional(),
  })
  .refine((b) => (b.devices === undefined) !== (b.labels === undefined), 'give devices or labels, not both');
export type BulkCommandRequest = z.input<typeof bulkCommandSchema>;

/**
 * `POST /state/bulk`: one merge patch of the desired state to each of a list
 * of devices, or to every device whose labels match a selector. `desired` is
 * kept as parsed (not copied), so the patch checks see a `__proto__` key.
 */
export const bulkDesiredSchema = z
  .object({
    devices: z.array(deviceIdSchema).min(1).max(MAX_BULK_DEVICES).optional(),
    labels: labelSelectorSchema.optional(),
    desired: z
      .unknown()
      .refine(isJsonObject, 'desired must be a JSON object (an RFC 7396 merge patch)')
      .describe('An RFC 7396 merge patch of the desired state'),
  })
  .refine((b) => (b.devices === undefined) !== (b.labels === undefined), 'give devices or labels, not both');
export type BulkDesiredRequest = z.input<typeof bulkDesiredSchema>;

/** `GET /devices/{id}/commands`: one page, newest first. */
export const listCommandsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(64).optional(),
});
export type ListCommandsQuery = z.infer<typeof listCommandsQuerySchema>;

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
  /** The model the device has, or null. */
  model: ModelRef | null;
  latest: LatestValues;
  /** Its open (raised or acknowledged) alarms. */
  alarms: number;
}

export interface DeviceListResponse {
  items: DeviceListItem[];
  nextCursor: string | null;
}

export interface DeviceCredentials {
  username: string;
  password: string;
}

/** `GET /broker`: where devices reach the MQTT broker, as a console shows it next to their credentials. */
export interface BrokerInfo {
  /** An `mqtt://`, `mqtts://`, `ws://` or `wss://` URL, e.g. `mqtt://iot.example.com:1883`. */
  url: string;
  /**
   * False when configured (`MQTT_PUBLIC_URL`); true when worked out by the api:
   * the host the request came to and the embedded broker's port, or the
   * external broker's URL as the api reaches it. Either can differ from what
   * devices on another network must use.
   */
  derived: boolean;
}

export interface CreateDeviceResponse {
  device: DeviceView;
  credentials: DeviceCredentials;
}

const keysQuery = z
  .string()
  .transform((s) => s.split(',').map((k) => k.trim()).filter((k) => k.length > 0))
  .pipe(z.array(z.string().regex(TELEMETRY_KEY_PATTERN, 'invalid telemetry key')).max(100))
  // Never a stored key (ingest refuses it), and the answer is an object keyed by these names.
  .refine((keys) => !keys.includes('__proto__'), '"__proto__" is not a telemetry key');

/** How the points of one bucket become one: `GET /devices/{id}/telemetry?bucket=…&agg=…`. */
export const TELEMETRY_AGGREGATIONS = ['avg', 'min', 'max', 'sum', 'count', 'last'] as const;
export const telemetryAggregationSchema = z.enum(TELEMETRY_AGGREGATIONS, {
  error: `agg must be one of ${TELEMETRY_AGGREGATIONS.join(', ')}`,
});
/**
 * `avg`, `min`, `max`, `sum`: over numbers and booleans (as 0 and 1); strings are skipped.
 * `count`: values of any type. `last`: the newest value (by time, then arrival), of any type.
 */
export type TelemetryAggregation = z.infer<typeof telemetryAggregationSchema>;

/** Bounds of the history endpoint. */
export const HISTORY_LIMITS = {
  /** Most points one series of an aggregated answer may hold: a finer bucket is refused (400). */
  maxPointsPerSeries: 10_000,
  /** Range of an aggregated query without `from`: this long before `to`. */
  defaultSpanMs: 24 * 3_600_000,
  /** Widest `bucket` accepted. */
  maxBucketMs: 3650 * 86_400_000,
} as const;

const DURATION_UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type DurationUnit = keyof typeof DURATION_UNITS;
const DURATION_PATTERN = /^([1-9][0-9]{0,9})(ms|s|m|h|d)$/;

/**
 * Reads a duration such as `500ms`, `10s`, `1m`, `5m`, `1h` or `1d`: a whole
 * number from 1 and one unit (`ms`, `s`, `m`, `h`, `d`; a day is 24 h).
 * Returns milliseconds, or `undefined` when it does not match.
 */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text);
  return m ? Number(m[1]) * DURATION_UNITS[m[2] as DurationUnit] : undefined;
}

/** Writes milliseconds in the largest unit that divides them: 7200000 → `2h`, 90000 → `90s`. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= DURATION_UNITS[unit] && ms % DURATION_UNITS[unit] === 0) return `${ms / DURATION_UNITS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * How many buckets of `bucketMs` overlap `[from, to)`. Buckets are aligned to
 * the Unix epoch (UTC): bucket k covers `[k·bucketMs, (k+1)·bucketMs)`.
 */
export function bucketCount(from: number, to: number, bucketMs: number): number {
  return to <= from ? 0 : Math.floor((to - 1) / bucketMs) - Math.floor(from / bucketMs) + 1;
}

/**
 * Why `bucketMs` over `[from, to)` is refused (more than
 * `HISTORY_LIMITS.maxPointsPerSeries` buckets), or `undefined` when it is fine.
 */
export function bucketProblem(from: number, to: number, bucketMs: number): string | undefined {
  const count = bucketCount(from, to, bucketMs);
  const max = HISTORY_LIMITS.maxPointsPerSeries;
  return count > max
    ? `bucket ${formatDuration(bucketMs)} over this range makes ${count} points per key, more than ${max}: choose a wider bucket, a shorter range, or points=N`
    : undefined;
}

/** Bucket widths `points=N` chooses from: sizes a time axis labels well. */
// prettier-ignore
export const NICE_BUCKETS_MS: readonly number[] = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  1_000, 2_000, 5_000, 10_000, 15_000, 30_000,
  60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
  3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000,
  86_400_000, 2 * 86_400_000, 7 * 86_400_000, 14 * 86_400_000, 30 * 86_400_000,
];

/**
 * The bucket for about `points` points over `[from, to)`: the narrowest of
 * `NICE_BUCKETS_MS` (at least `minBucketMs`) giving at most `points` buckets,
 * or past those a whole number of days. Since neighbouring sizes differ by at
 * most 2.5× up to a day, the answer holds between about N/2.5 and N points
 * when data covers the range.
 */
export function pickBucket(from: number, to: number, points: number, minBucketMs = 1): number {
  for (const size of NICE_BUCKETS_MS) {
    if (size >= minBucketMs && bucketCount(from, to, size) <= points) return size;
  }
  const day = DURATION_UNITS.d;
  let size = Math.max(day, Math.ceil((to - from) / points / day) * day);
  while (bucketCount(from, to, size) > points) size += day;
  return size;
}

const bucketSchema = z
  .string()
  .describe(
    'Bucket width: a whole number and a unit (ms, s, m, h, d), e.g. 10s, 1m, 5m, 1h, 1d; buckets are aligned to the epoch (UTC)',
  )
  .transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms > HISTORY_LIMITS.maxBucketMs) {
      ctx.addIssue({
        code: 'custom',
        message:
          'bucket must be a whole number and a unit (ms, s, m, h, d), such as 10s, 1m, 5m, 1h or 1d, and at most 3650d',
      });
      return z.NEVER;
    }
    return ms;
  });

const pointsSchema = z.coerce
  .number({ error: 'points must be a whole number' })
  .int('points must be a whole number')
  .min(1, `points must be from 1 to ${HISTORY_LIMITS.maxPointsPerSeries}`)
  .max(HISTORY_LIMITS.maxPointsPerSeries, `points must be from 1 to ${HISTORY_LIMITS.maxPointsPerSeries}`);

/**
 * `GET /devices/{id}/telemetry`: raw points, or with `bucket` (parsed to
 * milliseconds) or `points`, one aggregated point per non-empty bucket.
 * Without `agg` an aggregated query averages. `limit` and `order` apply to
 * either form, per key.
 */
export const telemetryQuerySchema = z
  .object({
    keys: keysQuery.optional(),
    from: timeSchema.optional(),
    to: timeSchema.optional(),
    limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
    order: z.enum(['asc', 'desc']).default('asc'),
    bucket: bucketSchema.optional(),
    agg: telemetryAggregationSchema.describe('How each bucket is summarised; avg by default').optional(),
    points: pointsSchema
      .describe('Instead of bucket: about how many points per key; the bucket is chosen for it')
      .optional(),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, '"from" must be before "to"')
  .refine((q) => q.bucket === undefined || q.points === undefined, 'give "bucket" or "points", not both')
  .refine(
    (q) => q.agg === undefined || q.bucket !== undefined || q.points !== undefined,
    '"agg" needs "bucket" or "points"',
  )
  .superRefine((q, ctx) => {
    if (q.bucket === undefined || q.from === undefined || q.to === undefined || q.from >= q.to) return;
    const problem = bucketProblem(q.from, q.to, q.bucket);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
export type TelemetryQuery = z.infer<typeof telemetryQuerySchema>;

/**
 * `GET /devices/{id}/telemetry`: per key, `[ts, value]` pairs. An aggregated
 * answer also says what it covers: the range and bucket it used (after
 * defaults and `points=N`) and the aggregation; each `ts` is a bucket's start.
 */
export interface TelemetrySeriesResponse {
  deviceId: string;
  series: Record<string, Array<[number, TelemetryValue]>>;
  from?: number;
  to?: number;
  bucketMs?: number;
  agg?: TelemetryAggregation;
}

/** The error body of every 4xx and 5xx answer. */
export interface ApiError {
  statusCode: number;
  error: string;
  message: string;
}

/** `GET /audit`: filters, newest first, paged by id. */
export const listAuditQuerySchema = z.object({
  actor: z.string().max(256).optional(),
  action: z.string().max(64).optional(),
  target: z.string().max(256).optional(),
  /** Epoch ms: entries at or after it. */
  from: z.coerce.number().int().nonnegative().optional(),
  /** Epoch ms: entries before it. */
  to: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().regex(/^\d{1,15}$/, 'a cursor from nextCursor').optional(),
  /** `csv`: the page as CSV (text/csv) instead of JSON. */
  format: z.enum(['json', 'csv']).default('json'),
});
export type ListAuditQuery = z.infer<typeof listAuditQuerySchema>;
