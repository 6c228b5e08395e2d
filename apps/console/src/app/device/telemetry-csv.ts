import type { TelemetrySpec } from '@iot/protocol';

/** One key's points as a chart shows them. */
export interface CsvSeries {
  key: string;
  spec: TelemetrySpec | undefined;
  /** `[ts, value]`, values as charted (booleans 0/1, enums their index, averages in bucketed ranges). */
  points: ReadonlyArray<readonly [number, number]>;
  /** Whether the values are bucket averages. */
  averaged: boolean;
}

/** A charted value back as the device sent it: a boolean or an enum's value (an average stays a number). */
export function decodeValue(
  spec: TelemetrySpec | undefined,
  value: number,
  averaged = false,
): string | number | boolean {
  if (averaged || !spec) return value;
  if (spec.type === 'boolean' && (value === 0 || value === 1)) return value === 1;
  if (spec.type === 'enum') return spec.values?.[value] ?? value;
  return value;
}

/**
 * A CSV cell: quoted when it holds a comma, quote or line break; text that a
 * spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) is
 * prefixed with `'`. Numbers are written as they are.
 */
export function csvCell(value: string | number | boolean): string {
  if (typeof value !== 'string') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The history shown, one row per point: `time` (ISO 8601, UTC), `key`, `value`, `unit`; oldest first. */
export function telemetryCsv(series: readonly CsvSeries[]): string {
  const rows: Array<[number, string]> = [];
  for (const { key, spec, points, averaged } of series) {
    const unit = csvCell(spec?.unit ?? '');
    for (const [ts, value] of points) {
      rows.push([
        ts,
        [new Date(ts).toISOString(), csvCell(key), csvCell(decodeValue(spec, value, averaged)), unit].join(','),
      ]);
    }
  }
  rows.sort((a, b) => a[0] - b[0]);
  return ['time,key,value,unit', ...rows.map((r) => r[1])].join('\r\n') + '\r\n';
}
