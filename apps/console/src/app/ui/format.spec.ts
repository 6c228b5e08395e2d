import { formatMeasurement, formatNumber, formatRelativeTime, formatTelemetryValue } from './format';

describe('formatNumber', () => {
  it.each([
    [0, '0'],
    [12, '12'],
    [-7, '-7'],
    [1_234_567, '1,234,567'],
    [1_764_236_400_000, '1,764,236,400,000'],
    [21.534, '21.53'],
    [21.5, '21.5'],
    [-3.14159, '-3.14'],
    [231.54, '231.5'],
    [1532.7, '1,533'],
    [0.5, '0.5'],
    [0.012345, '0.0123'],
    [0.00001234, '1.23e-5'],
    [1.5e13 + 0.5, '1.5e+13'],
  ])('%p → %s', (value, text) => {
    expect(formatNumber(value)).toBe(text);
  });

  it('follows the locale', () => {
    expect(formatNumber(1234.5678, 'de-DE')).toBe('1.235');
    expect(formatNumber(21.534, 'de-DE')).toBe('21,53');
  });
});

describe('formatTelemetryValue', () => {
  it('shows booleans and strings as they are', () => {
    expect(formatTelemetryValue(true)).toBe('true');
    expect(formatTelemetryValue('open')).toBe('open');
    expect(formatTelemetryValue(21.534)).toBe('21.53');
  });
});

describe('formatRelativeTime', () => {
  const now = Date.UTC(2026, 0, 31, 12, 0, 0);

  it.each([
    [null, 'never'],
    [now, 'now'],
    [now - 4_000, 'now'],
    [now + 30_000, 'now'],
    [now - 12_000, '12s ago'],
    [now - 3 * 60_000, '3m ago'],
    [now - 2 * 3_600_000, '2h ago'],
    [now - 24 * 3_600_000, 'yesterday'],
    [now - 5 * 24 * 3_600_000, '5d ago'],
  ])('%p → %s', (ts, text) => {
    expect(formatRelativeTime(ts, now)).toBe(text);
  });

  it('gives the date past 30 days', () => {
    expect(formatRelativeTime(Date.UTC(2025, 11, 1, 12), now)).toBe('Dec 1, 2025');
  });
});

describe('formatMeasurement', () => {
  it('gives a number its precision and unit', () => {
    expect(formatMeasurement(21.456, { type: 'number', unit: '°C', precision: 1 })).toBe('21.5\u00a0°C');
    expect(formatMeasurement(21, { type: 'number', unit: '°C', precision: 1 })).toBe('21.0\u00a0°C');
    expect(formatMeasurement(1234.5, { type: 'number', unit: 'W', precision: 0 })).toBe('1,235\u00a0W');
  });

  it('keeps the usual precision where the model gives none', () => {
    expect(formatMeasurement(231.54, { type: 'number', unit: 'V' })).toBe('231.5\u00a0V');
  });

  it('reads a boolean key as on/off, with no unit', () => {
    expect(formatMeasurement(true, { type: 'boolean' })).toBe('on');
    expect(formatMeasurement(false, { type: 'boolean', unit: 'x' })).toBe('off');
  });

  it('shows a value that does not fit its spec as it is, without the unit', () => {
    expect(formatMeasurement('broken', { type: 'number', unit: '°C', precision: 1 })).toBe('broken');
  });

  it('is formatTelemetryValue without a spec', () => {
    expect(formatMeasurement(true, undefined)).toBe('true');
    expect(formatMeasurement(21.534, undefined)).toBe('21.53');
  });
});
