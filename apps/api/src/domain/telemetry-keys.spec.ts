import { TelemetryKeys } from './telemetry-keys';

const entry = (...keys: string[]) => ({ values: Object.fromEntries(keys.map((k) => [k, 1])) });

describe('TelemetryKeys', () => {
  let sut: TelemetryKeys;

  beforeEach(() => (sut = new TelemetryKeys()));

  it('takes new keys in up to the bound, then refuses a message that adds one more, whole', () => {
    expect(sut.admit('a', [entry('k1', 'k2')], 3)).toBeUndefined();
    expect(sut.admit('a', [entry('k1'), entry('k3')], 3)).toBeUndefined();
    expect(sut.count('a')).toBe(3);
    // Known keys are always fine; a new one past the bound refuses the whole message, its known keys too.
    expect(sut.admit('a', [entry('k1', 'k2', 'k3')], 3)).toBeUndefined();
    expect(sut.admit('a', [entry('k1'), entry('k4')], 3)).toBe(3);
    expect(sut.count('a')).toBe(3);
  });

  it('counts a key repeated across a batch once, and refuses a message with more new keys than the bound', () => {
    expect(sut.admit('a', [entry('x', 'y'), entry('y', 'x'), entry('x')], 2)).toBeUndefined();
    expect(sut.count('a')).toBe(2);
    const many = entry(...Array.from({ length: 10_000 }, (_, i) => `k${i}`));
    expect(sut.admit('b', [many], 1000)).toBe(0);
    expect(sut.count('b')).toBe(0);
  });

  it('keeps each device to its own keys', () => {
    expect(sut.admit('a', [entry('k1')], 1)).toBeUndefined();
    expect(sut.admit('b', [entry('k2')], 1)).toBeUndefined();
    expect(sut.admit('a', [entry('k2')], 1)).toBe(1);
  });

  it('forgets a device: made again with its id, it starts with no keys', () => {
    sut.admit('a', [entry('k1')], 1);
    sut.forget('a');
    expect(sut.count('a')).toBe(0);
    expect(sut.admit('a', [entry('k2')], 1)).toBeUndefined();
  });

  it('loads stored pairs and bounds from there', () => {
    sut.load([
      { deviceId: 'a', key: 'k1' },
      { deviceId: 'a', key: 'k2' },
      { deviceId: 'b', key: 'k1' },
    ]);
    expect([sut.count('a'), sut.count('b')]).toEqual([2, 1]);
    expect(sut.admit('a', [entry('k3')], 2)).toBe(2);
    expect(sut.admit('b', [entry('k2')], 2)).toBeUndefined();
  });
});
