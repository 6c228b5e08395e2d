import { lastEventIdOf, parseStreamFilters } from './stream-query';

describe('stream query', () => {
  it('reads no filters as every device and every event', () => {
    expect(parseStreamFilters(undefined, undefined)).toEqual({ deviceIds: undefined, types: undefined });
    expect(parseStreamFilters('', '')).toEqual({ deviceIds: undefined, types: undefined });
  });

  it('splits, trims and drops empty entries', () => {
    const sut = parseStreamFilters(' a , b,,', 'status, telemetry');
    expect(sut).toEqual({ deviceIds: new Set(['a', 'b']), types: new Set(['status', 'telemetry']) });
  });

  it.each([
    ['a bad device id', 'bad/id', undefined, /^devices must be/],
    ['1001 devices', Array.from({ length: 1001 }, (_, i) => `d${i}`).join(','), undefined, /^devices must be/],
    ['an unknown event', undefined, 'telemetry,reset', /^events may list/],
  ])('refuses %s with the 400 message', (_name, devices, events, message) => {
    expect(parseStreamFilters(devices, events)).toMatch(message);
  });

  it('takes the Last-Event-ID header over the query, and empty as none', () => {
    expect(lastEventIdOf('h-1', 'q-1')).toBe('h-1');
    expect(lastEventIdOf('', 'q-1')).toBe('q-1');
    expect(lastEventIdOf(undefined, '')).toBeUndefined();
  });
});
