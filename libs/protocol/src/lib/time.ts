import * as z from 'zod';

/**
 * ISO 8601 / RFC 3339 date or date-time: `YYYY-MM-DD`, optionally followed by
 * `T` (or a space) and `hh:mm[:ss[.fff]]`, optionally followed by `Z`, `±hh:mm`,
 * `±hhmm` or `±hh`. A space in place of the `+` of an offset is read as `+`,
 * because an unencoded `+` in a URL query string arrives as a space.
 */
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+\- ])(\d{2})(?::?(\d{2}))?)?)?$/;

/** Days in `month` (1-12) of `year` (1970 or later). */
function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function parseIso(value: string): number | undefined {
  const m = ISO_8601.exec(value);
  if (m === null) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const millis = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3));
  if (minute > 59 || second > 59) return undefined;
  // 24:00 is the end of the day, and nothing after it.
  if (hour > 24 || (hour === 24 && (minute !== 0 || second !== 0 || millis !== 0))) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined && m[9] !== undefined) {
    const offsetHours = Number(m[10]);
    const offsetMins = m[11] === undefined ? 0 : Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  // A time without an offset is read as UTC, so the result never depends on the host's time zone.
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000;
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/**
 * Reads a time given as epoch milliseconds (number or digit string) or as an
 * ISO 8601 string with a date. Returns epoch ms, or `undefined` when it is neither.
 * A date without a time is midnight UTC; a date-time without an offset is UTC.
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
  return parseIso(value);
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
