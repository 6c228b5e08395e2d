import { execFileSync } from 'node:child_process';
import { parseTime, timeSchema } from './time';

const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0) => Date.UTC(y, mo - 1, d, h, mi, s, ms);

describe('parseTime: epoch milliseconds as a number', () => {
  it.each([
    [0, 0],
    [1, 1],
    [1764236400000, 1764236400000],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  ])('reads %p as %p', (value, expected) => {
    expect(parseTime(value)).toBe(expected);
  });

  it.each([
    [-1, 'negative'],
    [1.5, 'fractional'],
    [1764236400000.5, 'fractional epoch ms'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
    [Number.MAX_SAFE_INTEGER + 1, 'not a safe integer'],
  ])('refuses %p (%s)', (value) => {
    expect(parseTime(value)).toBeUndefined();
  });
});

describe('parseTime: epoch milliseconds as a digit string', () => {
  it.each([
    ['0', 0],
    ['1764236400000', 1764236400000],
    ['007', 7],
    // Digit strings are always epoch ms, never a year.
    ['12', 12],
    ['2025', 2025],
    [String(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER],
  ])('reads %p as %p', (value, expected) => {
    expect(parseTime(value)).toBe(expected);
  });

  it.each([
    ['', 'empty'],
    ['-1', 'negative'],
    ['1.5', 'fractional'],
    ['1e3', 'exponent'],
    [' 1', 'leading space'],
    ['1 ', 'trailing space'],
    ['0x10', 'hex'],
    ['9007199254740993', 'beyond MAX_SAFE_INTEGER'],
    ['1'.repeat(41), 'longer than 40 characters'],
  ])('refuses %p (%s)', (value) => {
    expect(parseTime(value)).toBeUndefined();
  });
});

describe('parseTime: ISO 8601', () => {
  it.each<[string, number]>([
    ['2025-11-27T09:40:00Z', 1764236400000],
    ['2025-11-27T09:40:00.000Z', 1764236400000],
    ['2025-11-27T09:40:00z', 1764236400000],
    ['2025-11-27t09:40:00Z', 1764236400000],
    ['2025-11-27T10:40:00+01:00', 1764236400000],
    ['2025-11-27T10:40:00+0100', 1764236400000],
    ['2025-11-27T10:40:00+01', 1764236400000],
    ['2025-11-27T04:40:00-05:00', 1764236400000],
    ['2025-11-27T15:10:00+05:30', 1764236400000],
    ['2025-11-27T09:40:00+00:00', 1764236400000],
    ['2025-11-27T09:40:00-00:00', 1764236400000],
    ['2025-11-27T23:40:00+14:00', 1764236400000],
    ['2025-11-26T21:40:00-12:00', 1764236400000],
    // An unencoded "+" in a query string arrives as a space.
    ['2025-11-27T10:40:00 01:00', 1764236400000],
    ['2025-11-27 09:40:00Z', 1764236400000],
    ['2025-11-27T09:40Z', 1764236400000],
    ['2025-11-27T09:40:00.5Z', 1764236400500],
    ['2025-11-27T09:40:00,5Z', 1764236400500],
    ['2025-11-27T09:40:00.123Z', 1764236400123],
    ['2025-11-27T09:40:00.123456789Z', 1764236400123],
    ['2025-11-27T09:40:00.999+01:00', 1764236400999 - 3_600_000],
    ['2025-11-27', utc(2025, 11, 27)],
    ['2025-11-27T09:40:00', 1764236400000],
    ['2025-11-27 09:40', 1764236400000],
    ['2024-02-29T00:00:00Z', utc(2024, 2, 29)],
    ['2000-02-29', utc(2000, 2, 29)],
    ['2025-12-31T23:59:59.999Z', utc(2025, 12, 31, 23, 59, 59, 999)],
    ['2025-11-27T24:00:00Z', utc(2025, 11, 28)],
    ['1970-01-01T00:00:00Z', 0],
    ['1970-01-01T01:00:00+01:00', 0],
    ['9999-12-31T23:59:59Z', utc(9999, 12, 31, 23, 59, 59)],
  ])('reads %p', (value, expected) => {
    expect(parseTime(value)).toBe(expected);
  });

  it.each([
    ['2025-02-29', 'not a leap year'],
    ['1900-02-29', 'century, not a leap year'],
    ['2025-02-30T00:00:00Z', 'no 30 February'],
    ['2025-04-31', 'no 31 April'],
    ['2025-00-10', 'month 0'],
    ['2025-13-01', 'month 13'],
    ['2025-11-00', 'day 0'],
    ['2025-11-32', 'day 32'],
    ['2025-11-27T25:00:00Z', 'hour 25'],
    ['2025-11-27T24:00:01Z', 'after 24:00'],
    ['2025-11-27T24:30:00Z', 'after 24:00'],
    ['2025-11-27T10:60:00Z', 'minute 60'],
    ['2025-11-27T10:00:60Z', 'second 60'],
    ['2025-11-27T10:00:00+24:00', 'offset hour 24'],
    ['2025-11-27T10:00:00+01:60', 'offset minute 60'],
    ['2025-11-27T10:00:00+1', 'one-digit offset'],
    ['2025-11-27T10Z', 'hour only'],
    ['2025-11-27T10:00:00.Z', 'empty fraction'],
    ['2025-11-27T10:00:00.1234567890Z', 'ten fraction digits'],
    ['2025-11-27Z', 'zone without a time'],
    ['2025-11-27T', 'T without a time'],
    ['2025-11-27T10:00:00 GMT', 'zone name'],
    ['2025-11-27T10:00:00 CET', 'zone name'],
    ['2025-11-27T10:00:00Z ', 'trailing space'],
    [' 2025-11-27T10:00:00Z', 'leading space'],
    ['2025-11-27garbage', 'trailing garbage'],
    ['2025-11-27 foo 10:00', 'garbage between date and time'],
    ['20251127T100000Z', 'basic format'],
    ['2025-11', 'month only'],
    ['+002025-11-27T00:00:00Z', 'expanded year'],
    ['25-11-27', 'two-digit year'],
    ['2025/11/27', 'slashes'],
    ['27.11.2025', 'European date'],
    ['Thu, 27 Nov 2025 09:40:00 GMT', 'RFC 1123 (not ISO 8601)'],
    ['Nov 27 2025', 'free text'],
    ['now', 'word'],
    ['1969-12-31T23:59:59Z', 'before the epoch'],
    ['1970-01-01T00:30:00+01:00', 'before the epoch once the offset is applied'],
    ['0070-01-01T00:00:00Z', 'year 70 (not 1970)'],
    ['2025-11-27T10:00:00.000000000000000000000+01:00', 'longer than 40 characters'],
  ])('refuses %p (%s)', (value) => {
    expect(parseTime(value)).toBeUndefined();
  });

  describe('does not depend on the host time zone', () => {
    // Jest gives tests a copy of process.env, so TZ can only be changed for a child process.
    const inZone = (tz: string, values: string[]): Array<number | null> => {
      const script = `const { parseTime } = require(${JSON.stringify(require.resolve('./time'))});
        process.stdout.write(JSON.stringify(${JSON.stringify(values)}.map((v) => parseTime(v) ?? null)));`;
      const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
        env: {
          ...process.env,
          TZ: tz,
          TS_NODE_COMPILER_OPTIONS: JSON.stringify({ module: 'commonjs', moduleResolution: 'node10' }),
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      return JSON.parse(out);
    };

    it.each([['Asia/Kolkata'], ['America/New_York'], ['Pacific/Chatham']])('in %s', (tz) => {
      expect(
        inZone(tz, ['2025-11-27T09:40:00', '2025-11-27 09:40', '2025-11-27', '2025-06-01T12:00:00', '2025-11-27T10:40:00+01:00']),
      ).toEqual([1764236400000, 1764236400000, utc(2025, 11, 27), utc(2025, 6, 1, 12), 1764236400000]);
    }, 60_000);
  });
});

describe('parseTime: other types', () => {
  it.each([[null], [undefined], [true], [false], [{}], [[]], [[1764236400000]], [new Date(0)], [BigInt(5)]])(
    'refuses %p',
    (value) => {
      expect(parseTime(value)).toBeUndefined();
    },
  );
});

describe('timeSchema', () => {
  it.each<[unknown, number]>([
    [1764236400000, 1764236400000],
    ['1764236400000', 1764236400000],
    ['2025-11-27T10:40:00+01:00', 1764236400000],
    ['2025-11-27T09:40:00Z', 1764236400000],
    [0, 0],
  ])('parses %p to %p', (value, expected) => {
    expect(timeSchema.parse(value)).toBe(expected);
  });

  it.each([['yesterday'], [''], [-5], [1.5], ['2025-02-30'], ['1969-12-31T00:00:00Z']])(
    'refuses %p with an actionable message',
    (value) => {
      const result = timeSchema.safeParse(value);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0].message).toBe('expected epoch milliseconds or an ISO 8601 time');
    },
  );

  it.each([[null], [true], [{}], [[]], [undefined]])('refuses a value of the wrong type: %p', (value) => {
    expect(timeSchema.safeParse(value).success).toBe(false);
  });
});
