import type { TelemetryValue } from '@iot/protocol';

const cache = new Map<string, Intl.NumberFormat | Intl.RelativeTimeFormat | Intl.DateTimeFormat>();

function cached<T extends Intl.NumberFormat | Intl.RelativeTimeFormat | Intl.DateTimeFormat>(key: string, make: () => T): T {
  let format = cache.get(key) as T | undefined;
  if (!format) {
    format = make();
    cache.set(key, format);
  }
  return format;
}

/**
 * A number at a precision an operator can read at a glance: integers whole
 * (grouped, up to 10^15), then fewer decimals the bigger the number (21.53, 231.5, 1,532),
 * three significant digits below 1, and exponent notation at the extremes.
 */
export function formatNumber(value: number, locale = 'en-US'): string {
  const magnitude = Math.abs(value);
  if (Number.isInteger(value) && magnitude < 1e15) {
    return cached(`int:${locale}`, () => new Intl.NumberFormat(locale, { maximumFractionDigits: 0 })).format(value);
  }
  if (magnitude !== 0 && (magnitude >= 1e12 || magnitude < 1e-3)) {
    return value.toExponential(2).replace(/\.?0+e/, 'e');
  }
  if (magnitude < 1) {
    return cached(`small:${locale}`, () => new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 })).format(value);
  }
  const digits = magnitude >= 1000 ? 0 : magnitude >= 100 ? 1 : 2;
  return cached(`frac${digits}:${locale}`, () => new Intl.NumberFormat(locale, { maximumFractionDigits: digits })).format(value);
}

/** A telemetry value as text: numbers via {@link formatNumber}, booleans and strings as they are. */
export function formatTelemetryValue(value: TelemetryValue, locale = 'en-US'): string {
  return typeof value === 'number' ? formatNumber(value, locale) : String(value);
}

const UNITS: ReadonlyArray<[Intl.RelativeTimeFormatUnit, number]> = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
];

/**
 * How long ago `ts` was, short: "now", "12s ago", "3m ago", "2h ago",
 * "yesterday"; a date past 30 days; "never" for null. A time slightly ahead
 * of this browser's clock (clock skew) reads as "now".
 */
export function formatRelativeTime(ts: number | null, now: number, locale = 'en-US'): string {
  if (ts === null) return 'never';
  const relative = cached(`rel:${locale}`, () => new Intl.RelativeTimeFormat(locale, { numeric: 'auto', style: 'narrow' }));
  let amount = Math.max(0, Math.floor((now - ts) / 1000));
  if (amount < 5) return relative.format(0, 'second');
  for (const [unit, perNext] of UNITS) {
    if (amount < perNext) return relative.format(-amount, unit);
    amount = Math.floor(amount / perNext);
  }
  return cached(`date:${locale}`, () => new Intl.DateTimeFormat(locale, { dateStyle: 'medium' })).format(ts);
}

/** The exact time, for a tooltip beside a relative one. */
export function formatTimestamp(ts: number, locale = 'en-US'): string {
  return cached(`ts:${locale}`, () => new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' })).format(ts);
}

/** What formatting a value needs from its telemetry key's spec in the device's model. */
export interface MeasureSpec {
  type?: string;
  unit?: string;
  precision?: number;
}

/**
 * A telemetry value with its model's precision and unit (`21.5 °C`); booleans
 * of a boolean key read on/off. Without a spec, as {@link formatTelemetryValue}.
 */
export function formatMeasurement(value: TelemetryValue, spec: MeasureSpec | undefined, locale = 'en-US'): string {
  if (!spec) return formatTelemetryValue(value, locale);
  let text: string;
  if (typeof value === 'number' && spec.precision !== undefined) {
    const digits = spec.precision;
    text = cached(
      `fixed${digits}:${locale}`,
      () => new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits }),
    ).format(value);
  } else if (typeof value === 'boolean' && spec.type === 'boolean') {
    text = value ? 'on' : 'off';
  } else {
    text = formatTelemetryValue(value, locale);
  }
  // A unit belongs to numbers; a misfit string keeps no unit it does not have.
  return spec.unit && typeof value === 'number' ? `${text}\u00a0${spec.unit}` : text;
}
