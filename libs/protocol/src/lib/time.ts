import { z } from 'zod';

/**
 * Reads a time given as epoch milliseconds (number or digit string) or as an
 * ISO 8601 string with a date. Returns epoch ms, or `undefined` when it is neither.
 */
export function parseTime(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > 40) return undefined;
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  // Require at least a full date so that strings like "12" are not read as years.
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** A zod schema for a time in epoch ms or ISO 8601, output as epoch ms. */
export const timeSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = parseTime(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected epoch milliseconds or an ISO 8601 time' });
    return z.NEVER;
  }
  return ms;
});
