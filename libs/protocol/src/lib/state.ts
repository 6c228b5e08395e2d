import * as z from 'zod';
import { jsonShapeProblem } from './json-limits';
import { LIMITS } from './limits';
import type { JsonObject } from './messages';

const hasOwn = (object: object, key: string) => Object.prototype.hasOwnProperty.call(object, key);

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
    return keys.length === Object.keys(b).length && keys.every((key) => hasOwn(b, key) && jsonEqual(a[key], b[key]));
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
    const have = hasOwn(reported, key) ? reported[key] : undefined;
    if (isJsonObject(want) && isJsonObject(have)) {
      const nested = stateDelta(want, have);
      if (Object.keys(nested).length > 0) delta[key] = nested;
    } else if (!jsonEqual(want, have)) {
      delta[key] = want;
    }
  }
  return delta;
}

/**
 * A state merge patch as parsed: a JSON object, passed on as it is. A record
 * schema would copy it and leave a `__proto__` key out unseen, so the
 * {@link statePatchProblem} check after it could not refuse it.
 */
export const statePatchSchema = z.custom<JsonObject>(isJsonObject, 'a merge patch must be a JSON object');

/**
 * Why a parsed state merge patch may not be applied, or undefined: nested
 * deeper than {@link LIMITS.maxStateDepth}, or a `__proto__` key anywhere.
 * Checked without recursion, before any recursive code sees the patch; a
 * merge is never deeper than the deeper of its document and patch, so
 * documents stay within the limit too.
 */
export function statePatchProblem(patch: JsonObject): string | undefined {
  switch (jsonShapeProblem(patch, LIMITS.maxStateDepth)) {
    case 'too_deep':
      return `state may nest objects and arrays at most ${LIMITS.maxStateDepth} levels deep`;
    case 'proto_key':
      return 'state may not have a "__proto__" key';
    case undefined:
      return undefined;
  }
}

/**
 * Applies a JSON merge patch (RFC 7396) and returns the new document;
 * `target` is left as it was (objects on the patch's paths are copied, the
 * rest shared). Keys are untrusted: they are looked up as own properties
 * and written as data, so `constructor` and `prototype` are ordinary keys
 * and a `__proto__` key never sets a prototype. Recursion is as deep as the
 * patch: check it with {@link statePatchProblem} first.
 */
export function applyMergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const result: JsonObject = { ...target };
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) {
      if (hasOwn(result, key)) delete result[key];
      continue;
    }
    const current = hasOwn(result, key) ? result[key] : undefined;
    const next = isJsonObject(value) ? applyMergePatch(isJsonObject(current) ? current : {}, value) : value;
    if (key === '__proto__')
      Object.defineProperty(result, key, { value: next, enumerable: true, writable: true, configurable: true });
    else result[key] = next;
  }
  return result;
}
