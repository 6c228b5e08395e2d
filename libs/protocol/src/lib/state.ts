import type { JsonObject } from './messages';

/** Whether a JSON value is an object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep equality of JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && jsonEqual(a[key], b[key]));
  }
  return false;
}

/**
 * The delta of a device's state: every key where desired differs from
 * reported, nested objects compared key by key, arrays and scalars whole. A
 * key only in desired is in the delta; a key only in reported is not
 * (nothing is asked of it).
 */
export function stateDelta(desired: JsonObject, reported: JsonObject): JsonObject {
  const delta: JsonObject = {};
  for (const key of Object.keys(desired)) {
    const want = desired[key];
    const have = reported[key];
    if (isJsonObject(want) && isJsonObject(have)) {
      const nested = stateDelta(want, have);
      if (Object.keys(nested).length > 0) delta[key] = nested;
    } else if (!jsonEqual(want, have)) {
      delta[key] = want;
    }
  }
  return delta;
}
