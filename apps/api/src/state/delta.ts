import { isDeepStrictEqual } from 'node:util';
import type { JsonObject } from '@iot/protocol';

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every key where desired differs from reported: nested objects compared key
 * by key, arrays and scalars whole. A key only in desired is in the delta;
 * a key only in reported is not (nothing is asked of it).
 */
export function stateDelta(desired: JsonObject, reported: JsonObject): JsonObject {
  const delta: JsonObject = {};
  for (const key of Object.keys(desired)) {
    const want = desired[key];
    const have = reported[key];
    if (isObject(want) && isObject(have)) {
      const nested = stateDelta(want, have);
      if (Object.keys(nested).length > 0) delta[key] = nested;
    } else if (!isDeepStrictEqual(want, have)) {
      delta[key] = want;
    }
  }
  return delta;
}
