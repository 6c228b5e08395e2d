import { COMMAND_NAME_PATTERN, DEVICE_ID_PATTERN, LIMITS, TELEMETRY_KEY_PATTERN, isDeviceId } from './limits';

const x = (n: number, c = 'a') => c.repeat(n);

describe('DEVICE_ID_PATTERN / isDeviceId', () => {
  it.each([
    ['a'],
    ['A'],
    ['0'],
    ['9lives'],
    ['sensor-01'],
    ['sensor_01'],
    ['Z-_-_'],
    [x(64)],
    ['a' + x(63, '_')],
    ['1' + x(63, '-')],
  ])('accepts %p', (id) => {
    expect(DEVICE_ID_PATTERN.test(id)).toBe(true);
    expect(isDeviceId(id)).toBe(true);
  });

  it.each([
    ['', 'empty'],
    [x(65), '65 characters'],
    ['_a', 'starts with _'],
    ['-a', 'starts with -'],
    ['.a', 'starts with .'],
    ['a.b', 'contains .'],
    ['a/b', 'contains /'],
    ['+', 'single-level wildcard'],
    ['#', 'multi-level wildcard'],
    ['a+', 'contains +'],
    ['a#', 'contains #'],
    ['$SYS', 'starts with $'],
    ['a b', 'contains a space'],
    [' a', 'leading space'],
    ['a\n', 'trailing newline'],
    ['é', 'non-ASCII letter'],
    ['a\u0000', 'NUL'],
  ])('refuses %p (%s)', (id) => {
    expect(DEVICE_ID_PATTERN.test(id)).toBe(false);
    expect(isDeviceId(id)).toBe(false);
  });
});

describe('TELEMETRY_KEY_PATTERN', () => {
  it.each([
    ['temperature'],
    ['power.l1'],
    ['_private'],
    ['_'],
    ['T'],
    ['a-b'],
    ['a.b.c-d_e'],
    ['x9'],
    [x(64)],
    ['_' + x(63, '.')],
  ])('accepts %p', (key) => {
    expect(TELEMETRY_KEY_PATTERN.test(key)).toBe(true);
  });

  it.each([
    ['', 'empty'],
    [x(65), '65 characters'],
    ['_' + x(64), '65 characters starting with _'],
    ['1a', 'starts with a digit'],
    ['.a', 'starts with .'],
    ['-a', 'starts with -'],
    ['a b', 'space'],
    ['a/b', 'slash'],
    ['a$', 'dollar'],
    ['a:b', 'colon'],
    ['é', 'non-ASCII'],
    ['a\n', 'trailing newline'],
  ])('refuses %p (%s)', (key) => {
    expect(TELEMETRY_KEY_PATTERN.test(key)).toBe(false);
  });
});

describe('COMMAND_NAME_PATTERN', () => {
  it.each([['reboot'], ['setpoint.set'], ['R'], ['a1'], ['a_b-c.d'], [x(64)], ['z' + x(63, '9')]])(
    'accepts %p',
    (name) => {
      expect(COMMAND_NAME_PATTERN.test(name)).toBe(true);
    },
  );

  it.each([
    ['', 'empty'],
    [x(65), '65 characters'],
    ['1reboot', 'starts with a digit'],
    ['_reboot', 'starts with _ (allowed for keys, not names)'],
    ['.reboot', 'starts with .'],
    ['-reboot', 'starts with -'],
    ['re boot', 'space'],
    ['re/boot', 'slash'],
    ['reboot+', 'plus'],
    ['reboot\n', 'trailing newline'],
  ])('refuses %p (%s)', (name) => {
    expect(COMMAND_NAME_PATTERN.test(name)).toBe(false);
  });
});

describe('LIMITS', () => {
  it.each([
    ['maxStringValueLength', 256],
    ['maxPayloadBytes', 256 * 1024],
    ['maxBatchEntries', 1000],
    ['maxPacketBytes', 1024 * 1024],
    ['maxWsFrameBytes', 64 * 1024],
    ['maxClockSkewMs', 5 * 60 * 1000],
  ] as const)('%s is %p, as the contract says', (name, value) => {
    expect(LIMITS[name]).toBe(value);
  });

  it('keeps the payload cap below the broker packet cap', () => {
    expect(LIMITS.maxPayloadBytes).toBeLessThan(LIMITS.maxPacketBytes);
  });
});
