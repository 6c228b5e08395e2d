import {
  TERMINAL_COMMAND_STATUSES,
  commandMessageSchema,
  commandNameSchema,
  commandParamsSchema,
  commandResultSchema,
  commandResultStatusSchema,
  commandStatusSchema,
  desiredStateDocumentSchema,
  deviceStatusSchema,
  errorNoticeSchema,
  jsonObjectSchema,
  reportedStatePatchSchema,
} from './messages';

const x = (n: number, c = 'a') => c.repeat(n);
const ok = (schema: { safeParse(v: unknown): { success: boolean } }, value: unknown) => schema.safeParse(value).success;

describe('deviceStatusSchema', () => {
  it.each([['online'], ['offline']])('accepts %p', (v) => expect(deviceStatusSchema.parse(v)).toBe(v));
  it.each<[unknown]>([['Online'], ['OFFLINE'], [''], ['true'], [true], [null], ['online\n'], [' online']])(
    'refuses %p',
    (v) => expect(ok(deviceStatusSchema, v)).toBe(false),
  );
});

describe('jsonObjectSchema / reportedStatePatchSchema', () => {
  it.each<[unknown]>([[{}], [{ a: 1 }], [{ a: { b: [1, 2, { c: null }] } }], [{ remove: null }]])('accepts %p', (v) => {
    expect(jsonObjectSchema.parse(v)).toEqual(v);
    expect(reportedStatePatchSchema.parse(v)).toEqual(v);
  });
  it.each<[unknown]>([[[]], [[1]], [null], ['x'], [1], [true], [undefined]])('refuses %p', (v) => {
    expect(ok(jsonObjectSchema, v)).toBe(false);
    expect(ok(reportedStatePatchSchema, v)).toBe(false);
  });
});

describe('desiredStateDocumentSchema', () => {
  it.each<[unknown]>([
    [{ version: 7, state: { setpoint: 21, mode: 'eco' } }],
    [{ version: 0, state: {} }],
    [{ version: Number.MAX_SAFE_INTEGER, state: { nested: { a: [1] } } }],
  ])('accepts %j', (v) => expect(desiredStateDocumentSchema.parse(v)).toEqual(v));

  it.each<[unknown, string]>([
    [{ version: -1, state: {} }, 'negative version'],
    [{ version: 1.5, state: {} }, 'fractional version'],
    [{ version: '7', state: {} }, 'string version'],
    [{ state: {} }, 'no version'],
    [{ version: 7 }, 'no state'],
    [{ version: 7, state: [] }, 'array state'],
    [{ version: 7, state: null }, 'null state'],
  ])('refuses %j (%s)', (v) => expect(ok(desiredStateDocumentSchema, v)).toBe(false));
});

describe('commandNameSchema', () => {
  it.each([['reboot'], ['setpoint.set'], ['R'], ['a_b-c.d9'], [x(64)], ['Z' + x(63, '.')]])('accepts %p', (v) =>
    expect(commandNameSchema.parse(v)).toBe(v),
  );
  it.each<[unknown, string]>([
    ['', 'empty'],
    [x(65), '65 characters'],
    ['1reboot', 'digit first'],
    ['_reboot', 'underscore first'],
    ['.reboot', 'dot first'],
    ['-reboot', 'dash first'],
    ['re boot', 'space'],
    ['re/boot', 'slash'],
    ['reboot#', 'hash'],
    ['réboot', 'non-ASCII'],
    [5, 'number'],
    [null, 'null'],
  ])('refuses %p (%s)', (v) => {
    const result = commandNameSchema.safeParse(v);
    expect(result.success).toBe(false);
    if (typeof v === 'string') expect(result.error?.issues[0].message).toMatch(/command names must match/);
  });
});

describe('commandParamsSchema', () => {
  /** `{"p":"…"}` of exactly `bytes` bytes once serialised. */
  const paramsOfSize = (bytes: number, char = 'x') => {
    const charBytes = Buffer.byteLength(char);
    const params = { p: char.repeat((bytes - 8) / charBytes) };
    expect(Buffer.byteLength(JSON.stringify(params))).toBe(bytes);
    return params;
  };

  it.each([
    [64 * 1024, true],
    [64 * 1024 + 1, false],
    [1024 * 1024, false],
  ])('params of %p bytes accepted: %p', (bytes, accepted) => {
    const result = commandParamsSchema.safeParse(paramsOfSize(bytes));
    expect(result.success).toBe(accepted);
    if (!accepted) expect(result.error?.issues[0].message).toBe('params may be at most 65536 bytes');
  });

  it('counts bytes, not characters', () => {
    // 32 764 two-byte characters: 65 536 bytes, accepted; one more pushes it over.
    expect(commandParamsSchema.safeParse(paramsOfSize(64 * 1024, 'é')).success).toBe(true);
    expect(commandParamsSchema.safeParse({ p: 'é'.repeat(32765) }).success).toBe(false);
  });

  it.each<[unknown]>([[{}], [{ a: 1, b: { c: [true, null] } }]])('accepts %j', (v) => {
    expect(commandParamsSchema.parse(v)).toEqual(v);
  });

  it.each<[unknown]>([[[]], [null], ['x'], [5]])('refuses %p', (v) => {
    expect(ok(commandParamsSchema, v)).toBe(false);
  });
});

describe('commandMessageSchema', () => {
  const valid = { name: 'reboot', params: { delay: 5 }, issuedAt: 1764236400000, expiresAt: 1764236460000 };

  it('accepts the contract shape', () => {
    expect(commandMessageSchema.parse(valid)).toEqual(valid);
  });

  it.each<[string, Record<string, unknown>]>([
    ['no name', { name: undefined }],
    ['a bad name', { name: '1reboot' }],
    ['no params', { params: undefined }],
    ['array params', { params: [] }],
    ['no issuedAt', { issuedAt: undefined }],
    ['string issuedAt', { issuedAt: '2025-11-27T09:40:00Z' }],
    ['no expiresAt', { expiresAt: undefined }],
  ])('refuses %s', (_what, patch) => {
    expect(ok(commandMessageSchema, { ...valid, ...patch })).toBe(false);
  });
});

describe('commandResultStatusSchema', () => {
  it.each([['accepted'], ['in-progress'], ['succeeded'], ['failed']])('accepts %p', (v) =>
    expect(commandResultStatusSchema.parse(v)).toBe(v),
  );
  it.each([['pending'], ['sent'], ['timed-out'], ['expired'], ['cancelled'], ['in_progress'], ['SUCCEEDED'], ['']])(
    'refuses %p (not a device-reported status)',
    (v) => expect(ok(commandResultStatusSchema, v)).toBe(false),
  );
});

describe('commandResultSchema', () => {
  it.each<[unknown]>([
    [{ status: 'accepted' }],
    [{ status: 'in-progress', result: { progress: 0.5 } }],
    [{ status: 'succeeded', result: 42 }],
    [{ status: 'succeeded', result: null }],
    [{ status: 'failed', error: 'disk full' }],
    [{ status: 'failed', error: x(1024) }],
  ])('accepts %j', (v) => expect(commandResultSchema.parse(v)).toEqual(v));

  it.each<[unknown, string]>([
    [{}, 'no status'],
    [{ status: 'done' }, 'unknown status'],
    [{ status: 'sent' }, 'platform-only status'],
    [{ status: 'failed', error: x(1025) }, 'error over 1024 characters'],
    [{ status: 'failed', error: { code: 1 } }, 'error not a string'],
    [null, 'null'],
    ['succeeded', 'bare string'],
  ])('refuses %j (%s)', (v) => expect(ok(commandResultSchema, v)).toBe(false));
});

describe('commandStatusSchema and TERMINAL_COMMAND_STATUSES', () => {
  const all = ['pending', 'sent', 'accepted', 'in-progress', 'succeeded', 'failed', 'timed-out', 'expired', 'cancelled'];

  it('lists every platform status of the contract', () => {
    expect([...commandStatusSchema.options].sort()).toEqual([...all].sort());
  });

  it.each(all.map((s) => [s]))('accepts %p', (s) => expect(commandStatusSchema.parse(s)).toBe(s));
  it.each([['done'], ['timeout'], ['canceled'], ['']])('refuses %p', (s) =>
    expect(ok(commandStatusSchema, s)).toBe(false),
  );

  it.each([
    ['pending', false],
    ['sent', false],
    ['accepted', false],
    ['in-progress', false],
    ['succeeded', true],
    ['failed', true],
    ['timed-out', true],
    ['expired', true],
    ['cancelled', true],
  ] as const)('%s is terminal: %p', (status, terminal) => {
    expect(TERMINAL_COMMAND_STATUSES.has(status)).toBe(terminal);
  });

  it('has exactly five terminal statuses', () => {
    expect(TERMINAL_COMMAND_STATUSES.size).toBe(5);
  });
});

describe('errorNoticeSchema', () => {
  it('accepts the contract shape', () => {
    const v = { topic: 'devices/d1/telemetry', error: 'payload is not valid JSON', ts: 1764236400000 };
    expect(errorNoticeSchema.parse(v)).toEqual(v);
  });
  it.each<[unknown, string]>([
    [{ error: 'e', ts: 1 }, 'no topic'],
    [{ topic: 't', ts: 1 }, 'no error'],
    [{ topic: 't', error: 'e' }, 'no ts'],
    [{ topic: 't', error: 'e', ts: '1' }, 'string ts'],
  ])('refuses %j (%s)', (v) => expect(ok(errorNoticeSchema, v)).toBe(false));
});
