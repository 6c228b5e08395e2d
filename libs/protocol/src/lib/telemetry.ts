import * as z from 'zod';
import { LIMITS, TELEMETRY_KEY_PATTERN, utf8Length } from './limits';
import { parseTime } from './time';

/** One telemetry value: a finite number, a boolean, or a short string. */
export const telemetryValueSchema = z.union(
  [
    z.number().refine(Number.isFinite, 'numbers must be finite'),
    z.boolean(),
    z.string().max(LIMITS.maxStringValueLength, `strings may have at most ${LIMITS.maxStringValueLength} characters`),
  ],
  {
    error: `a value must be a finite number, a boolean, or a string of at most ${LIMITS.maxStringValueLength} characters`,
  },
);
export type TelemetryValue = z.infer<typeof telemetryValueSchema>;

/** `{key: value, …}` with at least one key. */
export const telemetryValuesSchema = z
  .record(
    z.string().regex(TELEMETRY_KEY_PATTERN, 'telemetry keys must match ^[A-Za-z_][A-Za-z0-9_.-]{0,63}$'),
    telemetryValueSchema,
  )
  .refine((values) => Object.keys(values).length > 0, 'at least one value is required');
export type TelemetryValues = z.infer<typeof telemetryValuesSchema>;

/** Form 2: `{"ts": 1764236400000, "values": {…}}`, ts in epoch ms or ISO 8601. */
export const timedTelemetrySchema = z.strictObject({
  ts: z.union([z.number(), z.string()], { error: 'expected epoch milliseconds or an ISO 8601 time' }),
  values: telemetryValuesSchema,
});

/** One accepted telemetry entry, with its time resolved to epoch ms. */
export interface TelemetryEntry {
  ts: number;
  values: TelemetryValues;
  /**
   * The values' JSON as the device sent it, when that can be passed on as it
   * is: a flat payload taken whole, of at most 1,024 characters, on one line
   * (an SSE `data:` line ends at a line break). Lets the platform skip
   * serialising the values again.
   */
  valuesJson?: string;
}

/** Why a telemetry message was refused; also the `reason` label of the rejection counter. */
export type TelemetryRejection =
  | 'payload_too_large'
  | 'invalid_json'
  | 'invalid_telemetry'
  | 'batch_too_large'
  | 'future_timestamp';

export type TelemetryParseResult =
  | { ok: true; entries: TelemetryEntry[] }
  | { ok: false; reason: TelemetryRejection; error: string };

export interface TelemetryParseOptions {
  /** The platform's receive time, epoch ms: the time of flat entries. */
  now: number;
  maxPayloadBytes?: number;
  maxBatchEntries?: number;
}

const utf8 = new TextDecoder();

function fail(reason: TelemetryRejection, error: string): TelemetryParseResult {
  return { ok: false, reason, error };
}

function describe(error: z.ZodError, prefix: string): string {
  const issue = error.issues[0];
  const path = issue.path.length > 0 ? `${prefix}${issue.path.join('.')}: ` : prefix ? `${prefix.slice(0, -1)}: ` : '';
  // A bad key: say what a key must look like rather than zod's generic "Invalid key in record".
  const message = issue.code === 'invalid_key' && issue.issues.length > 0 ? issue.issues[0].message : issue.message;
  return `${path}${message}`;
}

/**
 * zod drops a `__proto__` key without a word (assigning it would replace the
 * prototype); a message is accepted whole or not at all, so it is refused instead.
 */
function hasProtoKey(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.prototype.hasOwnProperty.call(value, '__proto__');
}

/**
 * Whether `raw` is an object of values that telemetryValuesSchema accepts,
 * checked without zod: at tens of thousands of messages a second, zod's
 * parse (and the copy and the garbage it makes) held the api's ingest to
 * 48,000 msg/s on a 2-core machine, against 65,000 with this check first.
 * It only ever says yes to what the schema accepts (the tests hold it to
 * that); anything it doubts goes through the schema, which also words the
 * error.
 */
export function isPlainValues(raw: object): raw is TelemetryValues {
  let keys = 0;
  for (const key in raw) {
    if (!Object.prototype.hasOwnProperty.call(raw, key) || key === '__proto__' || !TELEMETRY_KEY_PATTERN.test(key)) {
      return false;
    }
    const value: unknown = (raw as Record<string, unknown>)[key];
    switch (typeof value) {
      case 'number':
        if (!Number.isFinite(value)) return false;
        break;
      case 'string':
        if (value.length > LIMITS.maxStringValueLength) return false;
        break;
      case 'boolean':
        break;
      default:
        return false;
    }
    keys++;
  }
  return keys > 0;
}

function isTimedEntry(raw: object): raw is { ts: number | string; values: TelemetryValues } {
  let keys = 0;
  for (const key in raw) if (Object.prototype.hasOwnProperty.call(raw, key)) keys++;
  const { ts, values } = raw as { ts?: unknown; values?: unknown };
  return (
    keys === 2 &&
    (typeof ts === 'number' || typeof ts === 'string') &&
    typeof values === 'object' &&
    values !== null &&
    !Array.isArray(values) &&
    isPlainValues(values)
  );
}

function parseEntry(raw: unknown, now: number, prefix: string): TelemetryEntry | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return `${prefix ? prefix.slice(0, -1) + ': ' : ''}expected an object of values, {"ts", "values"}, or an array of them`;
  }
  if (hasProtoKey(raw)) return `${prefix}__proto__: "__proto__" may not be used as a telemetry key`;
  if ('values' in raw && hasProtoKey(raw.values)) {
    return `${prefix}values.__proto__: "__proto__" may not be used as a telemetry key`;
  }
  if ('values' in raw !== 'ts' in raw) {
    return `${prefix}ts: a timed entry needs both "ts" and "values"`;
  }
  if ('values' in raw) {
    let timed: { ts: number | string; values: TelemetryValues };
    if (isTimedEntry(raw)) timed = raw;
    else {
      const checked = timedTelemetrySchema.safeParse(raw);
      if (!checked.success) return describe(checked.error, prefix);
      timed = checked.data;
    }
    const ts = parseTime(timed.ts);
    if (ts === undefined) return `${prefix}ts: expected epoch milliseconds or an ISO 8601 time`;
    if (ts > now + LIMITS.maxClockSkewMs) return `${prefix}ts: more than 5 minutes ahead of the platform clock`;
    return { ts, values: timed.values };
  }
  if (isPlainValues(raw)) return { ts: now, values: raw };
  const flat = telemetryValuesSchema.safeParse(raw);
  if (!flat.success) return describe(flat.error, prefix);
  return { ts: now, values: flat.data };
}

/**
 * A flat payload up to this long is passed on as it was written (`valuesJson`):
 * the common small message skips a serialisation, and padding in a large one
 * is not stored and sent to every stream (those are serialised again).
 */
const PASS_ON_MAX_CHARS = 1024;

/**
 * Parses a telemetry payload in any of its three forms (flat, timed, batch).
 * A message is accepted whole or refused whole: one bad entry refuses the batch.
 */
export function parseTelemetry(payload: Uint8Array | string, options: TelemetryParseOptions): TelemetryParseResult {
  const maxBytes = options.maxPayloadBytes ?? LIMITS.maxPayloadBytes;
  const maxEntries = options.maxBatchEntries ?? LIMITS.maxBatchEntries;
  const size = typeof payload === 'string' ? utf8Length(payload) : payload.length;
  if (size > maxBytes) return fail('payload_too_large', `payload of ${size} bytes is over the ${maxBytes}-byte limit`);
  const text = typeof payload === 'string' ? payload : utf8.decode(payload);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail('invalid_json', 'payload is not valid JSON');
  }
  if (Array.isArray(raw)) {
    if (raw.length === 0) return fail('invalid_telemetry', 'a batch needs at least one entry');
    if (raw.length > maxEntries) {
      return fail('batch_too_large', `a batch may have at most ${maxEntries} entries, got ${raw.length}`);
    }
    const entries: TelemetryEntry[] = [];
    for (let i = 0; i < raw.length; i++) {
      const entry = parseEntry(raw[i], options.now, `[${i}].`);
      if (typeof entry === 'string') return failEntry(entry);
      entries.push(entry);
    }
    return { ok: true, entries };
  }
  const entry = parseEntry(raw, options.now, '');
  if (typeof entry === 'string') return failEntry(entry);
  // Valid JSON holds a line break only as whitespace between tokens, never inside a string.
  if (entry.values === raw && text.length <= PASS_ON_MAX_CHARS && !text.includes('\n') && !text.includes('\r')) {
    entry.valuesJson = text;
  }
  return { ok: true, entries: [entry] };
}

function failEntry(error: string): TelemetryParseResult {
  return fail(error.includes('ahead of the platform clock') ? 'future_timestamp' : 'invalid_telemetry', error);
}
