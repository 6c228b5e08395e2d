import {
  API_BASE_PATH,
  HISTORY_LIMITS,
  NICE_BUCKETS_MS,
  Role,
  TELEMETRY_AGGREGATIONS,
  bucketCount,
  bucketProblem,
  formatDuration,
  parseDuration,
  pickBucket,
  createDeviceSchema,
  createUserSchema,
  deviceIdSchema,
  labelSelectorSchema,
  listCommandsQuerySchema,
  listDevicesQuerySchema,
  loginRequestSchema,
  roleAtLeast,
  roleSchema,
  sendCommandSchema,
  telemetryQuerySchema,
  updateDeviceSchema,
  updateUserSchema,
  usernameSchema,
} from './api';

const x = (n: number, c = 'a') => c.repeat(n);
const ok = (schema: { safeParse(v: unknown): { success: boolean } }, value: unknown) => schema.safeParse(value).success;
/** 2025-11-27T09:40:00Z */
const T0 = 1764236400000;

describe('API_BASE_PATH', () => {
  it('is /api/v1', () => expect(API_BASE_PATH).toBe('/api/v1'));
});

describe('roles', () => {
  it('has exactly viewer, operator and admin', () => {
    expect(roleSchema.options).toEqual(['viewer', 'operator', 'admin']);
  });

  it.each<[Role, Role, boolean]>([
    ['viewer', 'viewer', true],
    ['viewer', 'operator', false],
    ['viewer', 'admin', false],
    ['operator', 'viewer', true],
    ['operator', 'operator', true],
    ['operator', 'admin', false],
    ['admin', 'viewer', true],
    ['admin', 'operator', true],
    ['admin', 'admin', true],
  ])('roleAtLeast(%p, %p) is %p', (role, required, expected) => {
    expect(roleAtLeast(role, required)).toBe(expected);
  });

  it.each([['Admin'], ['root'], ['']])('roleSchema refuses %p', (r) => expect(ok(roleSchema, r)).toBe(false));
});

describe('usernameSchema', () => {
  it.each([['admin'], ['a'], ['0'], ['jane.doe@example.com'], ['ops_team-1'], [x(64)]])('accepts %p', (u) =>
    expect(usernameSchema.parse(u)).toBe(u),
  );
  it.each([[''], [x(65)], ['.jane'], ['_jane'], ['@jane'], ['-jane'], ['jane doe'], ['jane/doe'], ['jané']])(
    'refuses %p',
    (u) => expect(ok(usernameSchema, u)).toBe(false),
  );
});

describe('loginRequestSchema', () => {
  it('accepts a username and password', () => {
    expect(loginRequestSchema.parse({ username: 'admin', password: 's3cret' })).toEqual({
      username: 'admin',
      password: 's3cret',
    });
  });
  it.each<[unknown, string]>([
    [{ username: 'admin' }, 'no password'],
    [{ password: 'x' }, 'no username'],
    [{ username: '', password: 'x' }, 'empty username'],
    [{ username: 'admin', password: '' }, 'empty password'],
    [{ username: x(65), password: 'x' }, 'username over 64'],
    [{ username: 'admin', password: x(257) }, 'password over 256'],
    [{ username: 1, password: 'x' }, 'numeric username'],
  ])('refuses %j (%s)', (v) => expect(ok(loginRequestSchema, v)).toBe(false));
});

describe('createUserSchema / updateUserSchema', () => {
  it.each<[unknown]>([
    [{ username: 'jane', password: x(12), role: 'viewer' }],
    [{ username: 'jane', password: x(256), role: 'admin' }],
  ])('createUserSchema accepts %j', (v) => expect(createUserSchema.parse(v)).toEqual(v));

  it.each<[unknown, string]>([
    [{ username: 'jane', password: x(11), role: 'viewer' }, 'password under 12'],
    [{ username: 'jane', password: x(257), role: 'viewer' }, 'password over 256'],
    [{ username: 'jane', password: x(12), role: 'root' }, 'unknown role'],
    [{ username: 'jane', password: x(12) }, 'no role'],
    [{ username: '.jane', password: x(12), role: 'viewer' }, 'bad username'],
  ])('createUserSchema refuses %j (%s)', (v) => expect(ok(createUserSchema, v)).toBe(false));

  it('createUserSchema explains a short password', () => {
    const result = createUserSchema.safeParse({ username: 'jane', password: 'short', role: 'viewer' });
    expect(result.error?.issues[0].message).toBe('passwords need at least 12 characters');
  });

  it.each<[unknown]>([[{ password: x(12) }], [{ role: 'operator' }], [{ password: x(12), role: 'admin' }]])(
    'updateUserSchema accepts %j',
    (v) => expect(updateUserSchema.parse(v)).toEqual(v),
  );
  it.each<[unknown, string]>([
    [{}, 'nothing to change'],
    [{ username: 'renamed' }, 'only an unknown field'],
    [{ password: x(11) }, 'short password'],
    [{ role: 'root' }, 'unknown role'],
  ])('updateUserSchema refuses %j (%s)', (v) => expect(ok(updateUserSchema, v)).toBe(false));

  it.each<[unknown, string | null]>([
    ['site=a', 'site=a'],
    ['site=a,floor=2', 'site=a,floor=2'],
    [null, null],
  ])('takes the scope %j as %j', (scope, expected) => {
    expect(updateUserSchema.parse({ scope }).scope).toBe(expected);
    expect(createUserSchema.parse({ username: 'jane', password: x(12), role: 'operator', scope }).scope).toBe(expected);
  });

  it.each<[unknown]>([[''], ['site'], ['site=a,site=b'], [`k=${x(2048)}`], [1]])('refuses the scope %j', (scope) => {
    expect(ok(updateUserSchema, { scope })).toBe(false);
  });
});

describe('deviceIdSchema', () => {
  it.each([['d1'], ['Sensor_01-a'], [x(64)], ['0']])('accepts %p', (id) => expect(deviceIdSchema.parse(id)).toBe(id));
  it.each([[''], [x(65)], ['-a'], ['_a'], ['a.b'], ['a/b'], ['+'], ['#'], ['$SYS']])('refuses %p', (id) => {
    const result = deviceIdSchema.safeParse(id);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0].message).toMatch(/device ids are 1-64/);
  });
});

describe('createDeviceSchema', () => {
  it.each<[unknown, unknown]>([
    [{ name: 'Boiler' }, { name: 'Boiler' }],
    [{ name: '  Boiler  ' }, { name: 'Boiler' }],
    [
      { id: 'boiler-1', name: 'Boiler', type: 'thermostat', labels: { site: 'hq', 'k8s.io/zone': 'a' } },
      { id: 'boiler-1', name: 'Boiler', type: 'thermostat', labels: { site: 'hq', 'k8s.io/zone': 'a' } },
    ],
    [{ name: x(128) }, { name: x(128) }],
    [{ name: 'n', labels: { [x(63)]: x(256) } }, { name: 'n', labels: { [x(63)]: x(256) } }],
    [
      { name: 'n', labels: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`l${i}`, 'v'])) },
      { name: 'n', labels: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`l${i}`, 'v'])) },
    ],
  ])('accepts %j', (input, output) => expect(createDeviceSchema.parse(input)).toEqual(output));

  it.each<[unknown, string]>([
    [{}, 'no name'],
    [{ name: '' }, 'empty name'],
    [{ name: '   ' }, 'blank name'],
    [{ name: x(129) }, 'name over 128'],
    [{ id: 'a/b', name: 'n' }, 'bad id'],
    [{ id: x(65), name: 'n' }, '65-character id'],
    [{ id: '', name: 'n' }, 'empty id'],
    [{ name: 'n', type: '' }, 'empty type'],
    [{ name: 'n', type: x(65) }, 'type over 64'],
    [{ name: 'n', labels: { '': 'v' } }, 'empty label key'],
    [{ name: 'n', labels: { [x(64)]: 'v' } }, 'label key over 63'],
    [{ name: 'n', labels: { 'a b': 'v' } }, 'label key with a space'],
    [{ name: 'n', labels: { a: x(257) } }, 'label value over 256'],
    [{ name: 'n', labels: { a: 1 } }, 'numeric label value'],
    [{ name: 'n', labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'v'])) }, '65 labels'],
    [{ name: 'n', labels: [] }, 'array labels'],
  ])('refuses %j (%s)', (v) => expect(ok(createDeviceSchema, v)).toBe(false));
});

describe('updateDeviceSchema', () => {
  it.each<[unknown]>([[{ name: 'New' }], [{ type: null }], [{ type: 'meter' }], [{ labels: {} }], [{ labels: { a: 'b' } }]])(
    'accepts %j',
    (v) => expect(updateDeviceSchema.parse(v)).toEqual(v),
  );
  it.each<[unknown, string]>([
    [{}, 'nothing to change'],
    [{ id: 'other' }, 'only an unknown field'],
    [{ name: '' }, 'empty name'],
    [{ type: '' }, 'empty type'],
  ])('refuses %j (%s)', (v) => expect(ok(updateDeviceSchema, v)).toBe(false));
});

describe('listDevicesQuerySchema', () => {
  it('defaults limit to 100', () => {
    expect(listDevicesQuerySchema.parse({})).toEqual({ limit: 100 });
  });

  it.each<[Record<string, string>, Record<string, unknown>]>([
    [{ online: 'true' }, { online: true }],
    [{ online: 'false' }, { online: false }],
    [{ limit: '1' }, { limit: 1 }],
    [{ limit: '1000' }, { limit: 1000 }],
    [{ q: 'boiler', type: 'thermostat', cursor: 'abc' }, { q: 'boiler', type: 'thermostat', cursor: 'abc' }],
  ])('parses %j', (query, expected) => {
    expect(listDevicesQuerySchema.parse(query)).toEqual({ limit: 100, ...expected });
  });

  it.each<[Record<string, string>]>([
    [{ online: 'yes' }],
    [{ online: '1' }],
    [{ online: 'TRUE' }],
    [{ limit: '0' }],
    [{ limit: '1001' }],
    [{ limit: '1.5' }],
    [{ limit: 'ten' }],
    [{ limit: '' }],
    [{ q: x(129) }],
    [{ cursor: x(257) }],
  ])('refuses %j', (query) => expect(ok(listDevicesQuerySchema, query)).toBe(false));
});

describe('sendCommandSchema', () => {
  it.each<[Record<string, unknown>]>([
    [{ name: 'reboot' }],
    [{ name: 'set.mode', params: { mode: 'eco' }, timeoutMs: 100, ttlMs: 0 }],
    [{ name: 'reboot', timeoutMs: 86_400_000, ttlMs: 30 * 86_400_000 }],
  ])('accepts %j', (body) => expect(sendCommandSchema.parse(body)).toEqual(body));

  it.each<[Record<string, unknown>, string]>([
    [{}, 'no name'],
    [{ name: '1reboot' }, 'a name starting with a digit'],
    [{ name: 'reboot', params: [1] }, 'array params'],
    [{ name: 'reboot', timeoutMs: 99 }, 'timeoutMs below 100'],
    [{ name: 'reboot', timeoutMs: 86_400_001 }, 'timeoutMs over a day'],
    [{ name: 'reboot', ttlMs: -1 }, 'negative ttlMs'],
    [{ name: 'reboot', ttlMs: 30 * 86_400_000 + 1 }, 'ttlMs over 30 days'],
  ])('refuses %j (%s)', (body) => expect(ok(sendCommandSchema, body)).toBe(false));
});

describe('listCommandsQuerySchema', () => {
  it('defaults limit to 50', () => expect(listCommandsQuerySchema.parse({})).toEqual({ limit: 50 }));

  it('parses limit and cursor', () => {
    expect(listCommandsQuerySchema.parse({ limit: '500', cursor: 'c1' })).toEqual({ limit: 500, cursor: 'c1' });
  });

  it.each<[Record<string, string>]>([[{ limit: '0' }], [{ limit: '501' }], [{ limit: '2.5' }], [{ cursor: x(65) }]])(
    'refuses %j',
    (query) => expect(ok(listCommandsQuerySchema, query)).toBe(false),
  );
});

describe('telemetryQuerySchema', () => {
  it('defaults to limit 10 000, ascending, no keys and no range', () => {
    expect(telemetryQuerySchema.parse({})).toEqual({ limit: 10_000, order: 'asc' });
  });

  describe('keys', () => {
    it.each<[string, string[]]>([
      ['temperature', ['temperature']],
      ['temperature,humidity', ['temperature', 'humidity']],
      [' temperature , humidity ', ['temperature', 'humidity']],
      ['a,,b,', ['a', 'b']],
      ['power.l1,_x,fan-speed', ['power.l1', '_x', 'fan-speed']],
      ['', []],
      [',', []],
      [x(64), [x(64)]],
      ['constructor,toString', ['constructor', 'toString']],
      [Array.from({ length: 100 }, (_, i) => `k${i}`).join(','), Array.from({ length: 100 }, (_, i) => `k${i}`)],
    ])('parses %p', (keys, expected) => {
      expect(telemetryQuerySchema.parse({ keys }).keys).toEqual(expected);
    });

    it.each<[unknown, string]>([
      ['1a', 'a key starting with a digit'],
      ['a,1b', 'one bad key among good ones'],
      [x(65), 'a 65-character key'],
      ['a b', 'a key with a space'],
      ['a,__proto__', '__proto__, which no telemetry may use'],
      [Array.from({ length: 101 }, (_, i) => `k${i}`).join(','), '101 keys'],
      [5, 'a number'],
    ])('refuses %p (%s)', (keys) => {
      expect(ok(telemetryQuerySchema, { keys })).toBe(false);
    });
  });

  describe('from / to', () => {
    it.each<[Record<string, unknown>, number | undefined, number | undefined]>([
      [{ from: String(T0) }, T0, undefined],
      [{ to: String(T0) }, undefined, T0],
      [{ from: T0, to: T0 + 1 }, T0, T0 + 1],
      [{ from: '0', to: '1' }, 0, 1],
      [{ from: '2025-11-27T09:40:00Z', to: '2025-11-27T10:40:00Z' }, T0, T0 + 3_600_000],
      [{ from: '2025-11-27T10:40:00+01:00', to: '2025-11-27T09:41:00Z' }, T0, T0 + 60_000],
      [{ from: '2025-11-27T10:40:00 01:00', to: String(T0 + 1) }, T0, T0 + 1],
      [{ from: '2025-11-27', to: '2025-11-28' }, Date.UTC(2025, 10, 27), Date.UTC(2025, 10, 28)],
    ])('parses %j', (query, from, to) => {
      const parsed = telemetryQuerySchema.parse(query);
      expect(parsed.from).toBe(from);
      expect(parsed.to).toBe(to);
    });

    it.each<[Record<string, unknown>, string]>([
      [{ from: String(T0), to: String(T0) }, 'from equal to to (to is exclusive)'],
      [{ from: String(T0 + 1), to: String(T0) }, 'from after to'],
      [{ from: '2025-11-27T10:40:00+01:00', to: '2025-11-27T09:40:00Z' }, 'the same instant in two offsets'],
      [{ from: '2025-11-28', to: '2025-11-27' }, 'dates in the wrong order'],
    ])('refuses %j (%s) with an actionable message', (query) => {
      const result = telemetryQuerySchema.safeParse(query);
      expect(result.success).toBe(false);
      expect(result.error?.issues.map((i) => i.message)).toContain('"from" must be before "to"');
    });

    it.each<[Record<string, unknown>]>([
      [{ from: 'yesterday' }],
      [{ to: '' }],
      [{ from: '-1' }],
      [{ from: '2025-02-30' }],
      [{ to: '2025-11-27T10:00:00 CET' }],
      [{ from: true }],
    ])('refuses %j', (query) => {
      expect(ok(telemetryQuerySchema, query)).toBe(false);
    });
  });

  describe('limit and order', () => {
    it.each<[Record<string, unknown>, number, string]>([
      [{ limit: '1' }, 1, 'asc'],
      [{ limit: '100000' }, 100_000, 'asc'],
      [{ limit: 50 }, 50, 'asc'],
      [{ order: 'desc' }, 10_000, 'desc'],
      [{ order: 'asc', limit: '5' }, 5, 'asc'],
    ])('parses %j', (query, limit, order) => {
      expect(telemetryQuerySchema.parse(query)).toMatchObject({ limit, order });
    });

    it.each<[Record<string, unknown>]>([
      [{ limit: '0' }],
      [{ limit: '100001' }],
      [{ limit: '-5' }],
      [{ limit: '2.5' }],
      [{ limit: 'all' }],
      [{ order: 'DESC' }],
      [{ order: 'newest' }],
    ])('refuses %j', (query) => expect(ok(telemetryQuerySchema, query)).toBe(false));
  });
});

describe('telemetryQuerySchema: aggregation', () => {
  it('leaves raw queries as they were', () => {
    expect(telemetryQuerySchema.parse({ keys: 't' })).toEqual({ keys: ['t'], limit: 10_000, order: 'asc' });
  });

  it.each<[Record<string, unknown>, Record<string, unknown>]>([
    [
      { bucket: '1m', agg: 'avg' },
      { bucket: 60_000, agg: 'avg' },
    ],
    [{ bucket: '10s' }, { bucket: 10_000 }],
    [{ bucket: '500ms', agg: 'last' }, { bucket: 500 }],
    [{ bucket: '1h', agg: 'max' }, { bucket: 3_600_000 }],
    [{ bucket: '1d', agg: 'count' }, { bucket: 86_400_000 }],
    [{ bucket: '3650d' }, { bucket: 3650 * 86_400_000 }],
    [
      { points: '500', agg: 'sum' },
      { points: 500, agg: 'sum' },
    ],
    [{ points: '1' }, { points: 1 }],
    [{ points: '10000', agg: 'min' }, { points: 10_000 }],
    [{ bucket: '1s', from: String(T0), to: String(T0 + 10_000_000) }, { bucket: 1000 }],
  ])('parses %j', (query, expected) => {
    expect(telemetryQuerySchema.parse(query)).toMatchObject(expected);
  });

  it.each(TELEMETRY_AGGREGATIONS)('accepts agg=%s', (agg) => {
    expect(telemetryQuerySchema.parse({ bucket: '5m', agg }).agg).toBe(agg);
  });

  it.each<[Record<string, unknown>, RegExp]>([
    [{ bucket: '1m', agg: 'median' }, /agg must be one of avg, min, max, sum, count, last/],
    [{ bucket: '1m', agg: 'AVG' }, /agg must be one of/],
    [{ bucket: '60' }, /bucket must be a whole number and a unit/],
    [{ bucket: '1.5m' }, /bucket must be/],
    [{ bucket: '0s' }, /bucket must be/],
    [{ bucket: '1w' }, /bucket must be/],
    [{ bucket: '1M' }, /bucket must be/],
    [{ bucket: '-1m' }, /bucket must be/],
    [{ bucket: '3651d' }, /at most 3650d/],
    [{ points: '0' }, /points must be from 1 to 10000/],
    [{ points: '10001' }, /points must be from 1 to 10000/],
    [{ points: '2.5' }, /points must be a whole number/],
    [{ points: 'many' }, /points must be a whole number/],
    [{ bucket: '1m', points: '100' }, /give "bucket" or "points", not both/],
    [{ agg: 'avg' }, /"agg" needs "bucket" or "points"/],
    [
      { bucket: '1s', from: String(T0), to: String(T0 + 10_000_001) },
      /bucket 1s over this range makes 10001 points per key, more than 10000/,
    ],
    [{ bucket: '1ms', from: '2025-11-27T00:00:00Z', to: '2025-11-28T00:00:00+01:00' }, /more than 10000/],
  ])('refuses %j with an actionable message', (query, message) => {
    const result = telemetryQuerySchema.safeParse(query);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join('; ')).toMatch(message);
  });
});

describe('parseDuration / formatDuration', () => {
  it.each<[string, number]>([
    ['1ms', 1],
    ['250ms', 250],
    ['1s', 1000],
    ['15s', 15_000],
    ['1m', 60_000],
    ['90m', 5_400_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['30d', 2_592_000_000],
  ])('reads %p as %p ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each([[''], ['1'], ['m'], ['01m'], ['1 m'], ['1min'], ['1.5h'], ['-1s'], ['1H'], ['12345678901s']])(
    'refuses %p',
    (text) => expect(parseDuration(text)).toBeUndefined(),
  );

  it.each<[number, string]>([
    [1, '1ms'],
    [1500, '1500ms'],
    [90_000, '90s'],
    [60_000, '1m'],
    [5_400_000, '90m'],
    [7_200_000, '2h'],
    [86_400_000, '1d'],
    [36 * 3_600_000, '36h'],
  ])('writes %p ms as %p', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('bucketCount / bucketProblem', () => {
  const H = 3_600_000;
  it.each<[number, number, number, number]>([
    [0, H, H, 1],
    [0, H + 1, H, 2],
    [1, H, H, 1],
    [H - 1, H + 1, H, 2],
    [H, 2 * H, 60_000, 60],
    [T0 + 1, T0 + 2, 60_000, 1],
    [T0, T0, 1000, 0],
  ])('[%p, %p) in buckets of %p ms overlaps %p of them', (from, to, bucketMs, count) => {
    expect(bucketCount(from, to, bucketMs)).toBe(count);
  });

  it('allows up to the cap and explains what to do past it', () => {
    const max = HISTORY_LIMITS.maxPointsPerSeries;
    expect(bucketProblem(0, max * 1000, 1000)).toBeUndefined();
    expect(bucketProblem(0, max * 1000 + 1, 1000)).toMatch(
      /^bucket 1s over this range makes 10001 points per key, more than 10000: choose a wider bucket, a shorter range, or points=N$/,
    );
  });
});

describe('pickBucket', () => {
  const DAY = 86_400_000;
  const day0 = Date.UTC(2025, 10, 1);

  it.each<[string, number, number, number, number]>([
    ['30 days in 500 points', day0, day0 + 30 * DAY, 500, 2 * 3_600_000],
    ['30 days in 1000 points', day0, day0 + 30 * DAY, 1000, 3_600_000],
    ['a day in 500 points', day0, day0 + DAY, 500, 5 * 60_000],
    ['an hour in 500 points', day0, day0 + 3_600_000, 500, 10_000],
    ['a minute in 100 points', day0, day0 + 60_000, 100, 1000],
    ['a second in 1000 points', day0, day0 + 1000, 1000, 1],
    ['a year in 100 points', day0, day0 + 365 * DAY, 100, 7 * DAY],
    ['ten years in 10 points', day0, day0 + 3650 * DAY, 10, 370 * DAY],
  ])('%s: %p..%p, %p points → %p ms', (_name, from, to, points, expected) => {
    expect(pickBucket(from, to, points)).toBe(expected);
  });

  it('never gives more than the points asked for, nor a bucket twice as wide as needed among the nice sizes', () => {
    for (const span of [999, 60_000, 3_600_001, 7 * DAY + 5, 30 * DAY, 400 * DAY]) {
      for (const points of [1, 7, 100, 500, 1920, 10_000]) {
        for (const from of [day0, day0 + 12_345]) {
          const bucket = pickBucket(from, from + span, points);
          expect(bucketCount(from, from + span, bucket)).toBeLessThanOrEqual(points);
          const i = NICE_BUCKETS_MS.indexOf(bucket);
          if (i > 0) expect(bucketCount(from, from + span, NICE_BUCKETS_MS[i - 1])).toBeGreaterThan(points);
        }
      }
    }
  });

  it('keeps to a minimum width when asked (history older than raw retention has whole minutes only)', () => {
    expect(pickBucket(day0, day0 + 3_600_000, 500, 60_000)).toBe(60_000);
    expect(pickBucket(day0, day0 + 30 * DAY, 500, 60_000)).toBe(2 * 3_600_000);
  });
});

describe('labelSelectorSchema', () => {
  it('reads key=value pairs joined by commas, values as they are', () => {
    expect(labelSelectorSchema.parse('site=a,floor=2,empty=')).toEqual(
      new Map([
        ['site', 'a'],
        ['floor', '2'],
        ['empty', ''],
      ]),
    );
  });

  it.each([['site'], ['=a'], ['site=a,site=b'], ['bad key=a'], [Array.from({ length: 17 }, (_, i) => `k${i}=v`).join(',')]])(
    'refuses %p',
    (text) => {
      expect(labelSelectorSchema.safeParse(text).success).toBe(false);
    },
  );
});
