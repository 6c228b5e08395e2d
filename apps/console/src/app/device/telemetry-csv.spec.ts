import { csvCell, decodeValue, telemetryCsv } from './telemetry-csv';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

describe('telemetryCsv', () => {
  it('writes one row per point, oldest first, with the unit and values as the device sent them', () => {
    const csv = telemetryCsv([
      {
        key: 'temperature',
        spec: { type: 'number', unit: '°C' },
        points: [
          [T0, 21.5],
          [T0 + 2_000, 22],
        ],
        averaged: false,
      },
      { key: 'heating', spec: { type: 'boolean' }, points: [[T0 + 1_000, 1]], averaged: false },
      { key: 'mode', spec: { type: 'enum', values: ['eco', 'comfort'] }, points: [[T0 + 3_000, 1]], averaged: false },
      { key: 'raw', spec: undefined, points: [[T0 + 4_000, 7]], averaged: false },
    ]);
    expect(csv.split('\r\n')).toEqual([
      'time,key,value,unit',
      '2026-01-02T03:04:05.000Z,temperature,21.5,°C',
      '2026-01-02T03:04:06.000Z,heating,true,',
      '2026-01-02T03:04:07.000Z,temperature,22,°C',
      '2026-01-02T03:04:08.000Z,mode,comfort,',
      '2026-01-02T03:04:09.000Z,raw,7,',
      '',
    ]);
  });

  it('keeps averages as numbers (a boolean averaged over a bucket is the share of time it was on)', () => {
    expect(decodeValue({ type: 'boolean' }, 0.25, true)).toBe(0.25);
    expect(decodeValue({ type: 'boolean' }, 1, false)).toBe(true);
  });

  it('is only a header when nothing is shown', () => {
    expect(telemetryCsv([])).toBe('time,key,value,unit\r\n');
  });
});

describe('csvCell', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['=HYPERLINK("x")', `"'=HYPERLINK(""x"")"`],
    ['-1+2', "'-1+2"],
    ['@SUM(A1)', "'@SUM(A1)"],
  ])('%j → %s', (value, cell) => {
    expect(csvCell(value)).toBe(cell);
  });

  it('writes numbers and booleans as they are (a negative number is not a formula)', () => {
    expect(csvCell(-3.5)).toBe('-3.5');
    expect(csvCell(false)).toBe('false');
  });
});
