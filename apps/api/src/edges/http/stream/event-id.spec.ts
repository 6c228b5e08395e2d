import { formatEventId, parseEventId } from './event-id';

describe('event ids', () => {
  it('round-trips a seq under the same epoch', () => {
    expect(parseEventId('k3f9', formatEventId('k3f9', 123456))).toBe(123456);
  });

  it.each([
    ['another epoch', 'zzzz-5'],
    ['no dash', '12345'],
    ['an empty seq', 'k3f9-'],
    ['a non-numeric seq', 'k3f9-12a'],
    ['a negative-looking seq', 'k3f9--1'],
    ['a huge seq', `k3f9-${'9'.repeat(16)}`],
    ['an overlong id', `k3f9-${'1'.repeat(70)}`],
    ['nothing', ''],
  ])('refuses %s', (_name, id) => {
    expect(parseEventId('k3f9', id)).toBeUndefined();
  });

  it('refuses undefined', () => {
    expect(parseEventId('k3f9', undefined)).toBeUndefined();
  });
});
