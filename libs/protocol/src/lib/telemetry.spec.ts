import { LIMITS } from './limits';
import {
  TelemetryParseOptions,
  TelemetryParseResult,
  TelemetryRejection,
  isPlainValues,
  parseTelemetry,
  telemetryValueSchema,
  telemetryValuesSchema,
  timedTelemetrySchema,
} from './telemetry';

/** 2025-11-27T09:40:00Z, the contract's example time. */
const NOW = 1764236400000;
const SKEW = 5 * 60 * 1000;
const x = (n: number, c = 'a') => c.repeat(n);

function parse(payload: string | Buffer | unknown, options: Partial<TelemetryParseOptions> = {}): TelemetryParseResult {
  const raw = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
  return parseTelemetry(raw, { now: NOW, ...options });
}

function expectAccepted(result: TelemetryParseResult) {
  if (!result.ok) throw new Error(`expected acceptance, got ${result.reason}: ${result.error}`);
  return result.entries;
}

function expectRejected(result: TelemetryParseResult, reason: TelemetryRejection): string {
  expect(result).toMatchObject({ ok: false, reason });
  if (result.ok) throw new Error('unreachable');
  expect(result.error.length).toBeGreaterThan(0);
  expect(result).not.toHaveProperty('entries');
  return result.error;
}

describe('telemetryValueSchema', () => {
  it.each([
    [0],
    [-1.5],
    [21.5],
    [1e308],
    [Number.MAX_VALUE],
    [true],
    [false],
    [''],
    ['on'],
    [x(256)],
    ['é'.repeat(256)],
  ])('accepts %p', (value) => {
    expect(telemetryValueSchema.safeParse(value)).toEqual({ success: true, data: value });
  });

  it.each([
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
    [x(257), 'string of 257 characters'],
    [null, 'null'],
    [undefined, 'undefined'],
    [{}, 'object'],
    [{ a: 1 }, 'nested object'],
    [[1], 'array'],
    [BigInt(1), 'bigint'],
  ] as Array<[unknown, string]>)('refuses %p (%s)', (value) => {
    expect(telemetryValueSchema.safeParse(value).success).toBe(false);
  });
});

describe('telemetryValuesSchema', () => {
  it('accepts an object of values', () => {
    expect(telemetryValuesSchema.parse({ temperature: 21.5, on: true, mode: 'eco' })).toEqual({
      temperature: 21.5,
      on: true,
      mode: 'eco',
    });
  });

  it.each([
    [{}, 'empty'],
    [{ '1a': 1 }, 'bad key'],
    [{ [x(65)]: 1 }, '65-character key'],
    [{ a: null }, 'null value'],
    [{ a: { b: 1 } }, 'nested object'],
    [[], 'array'],
    [null, 'null'],
    ['a', 'string'],
  ] as Array<[unknown, string]>)('refuses %p (%s)', (value) => {
    expect(telemetryValuesSchema.safeParse(value).success).toBe(false);
  });
});

describe('timedTelemetrySchema', () => {
  it.each([[{ ts: 1, values: { a: 1 } }], [{ ts: '2025-11-27T09:40:00Z', values: { a: 1 } }]])('accepts %p', (v) => {
    expect(timedTelemetrySchema.safeParse(v).success).toBe(true);
  });
  it.each([
    [{ values: { a: 1 } }, 'no ts'],
    [{ ts: 1 }, 'no values'],
    [{ ts: true, values: { a: 1 } }, 'boolean ts'],
    [{ ts: null, values: { a: 1 } }, 'null ts'],
    [{ ts: 1, values: { a: 1 }, extra: 1 }, 'unknown key'],
    [{ ts: 1, values: {} }, 'empty values'],
  ] as Array<[unknown, string]>)('refuses %p (%s)', (v) => {
    expect(timedTelemetrySchema.safeParse(v).success).toBe(false);
  });
});

describe('parseTelemetry: form 1, flat', () => {
  it('accepts the contract example, at the receive time, and keeps its text to pass on', () => {
    expect(expectAccepted(parse('{"temperature": 21.5, "on": true}'))).toEqual([
      { ts: NOW, values: { temperature: 21.5, on: true }, valuesJson: '{"temperature": 21.5, "on": true}' },
    ]);
  });

  it('accepts a Buffer like a string', () => {
    expect(expectAccepted(parse(Buffer.from('{"temperature": 21.5}')))).toEqual([
      { ts: NOW, values: { temperature: 21.5 }, valuesJson: '{"temperature": 21.5}' },
    ]);
  });

  it.each([
    ['a line feed', '{"t": 1,\n"u": 2}'],
    ['a carriage return', '{"t": 1,\r"u": 2}'],
    ['a trailing line break', '{"t": 1, "u": 2}\r\n'],
  ])('accepts a payload with %s between tokens, but not its text: an SSE data line would end there', (_, text) => {
    const [entry] = expectAccepted(parse(text));
    expect(entry.values).toEqual({ t: 1, u: 2 });
    expect(entry.valuesJson).toBeUndefined();
  });

  it('passes on the text of a payload up to 1 KiB, not of a longer one (padding is not passed on)', () => {
    const short = `{"t": 1${' '.repeat(1024 - 8)}}`;
    expect(short.length).toBe(1024);
    expect(expectAccepted(parse(short))[0].valuesJson).toBe(short);
    const [long] = expectAccepted(parse(`{"t": 1${' '.repeat(1024 - 7)}}`));
    expect(long).toEqual({ ts: NOW, values: { t: 1 } });
    expect(long.valuesJson).toBeUndefined();
  });

  it('passes on no text for timed and batch entries: the values are only part of it', () => {
    const entries = [
      ...expectAccepted(parse({ ts: NOW - 1, values: { t: 1 } })),
      ...expectAccepted(parse([{ t: 2 }, { ts: NOW - 1, values: { t: 3 } }])),
    ];
    expect(entries.map((e) => e.valuesJson)).toEqual([undefined, undefined, undefined]);
  });

  it.each<[string, Record<string, unknown>]>([
    ['number', { t: -40.25 }],
    ['zero', { t: 0 }],
    ['exponent', { t: 1.5e-7 }],
    ['true', { on: true }],
    ['false', { on: false }],
    ['empty string', { mode: '' }],
    ['string of 256 characters', { s: x(256) }],
    ['string of 256 two-byte characters', { s: 'é'.repeat(256) }],
    ['many keys', Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i]))],
    ['64-character key', { [x(64)]: 1 }],
    ['key starting with _', { _internal: 1 }],
    ['dotted and dashed keys', { 'power.l1': 230.1, 'fan-speed': 3, 'a_b.c-d': true }],
    ['keys that are Object.prototype names', { constructor: 1, toString: 2, hasOwnProperty: 3, valueOf: 'x' }],
  ])('accepts a %s', (_what, values) => {
    const text = JSON.stringify(values);
    expect(expectAccepted(parse(values))).toEqual([
      { ts: NOW, values, ...(text.length <= 1024 && { valuesJson: text }) },
    ]);
  });

  it('keeps own keys named after Object.prototype members as own data', () => {
    const [entry] = expectAccepted(parse({ constructor: 1 }));
    expect(Object.prototype.hasOwnProperty.call(entry.values, 'constructor')).toBe(true);
    expect(entry.values['constructor']).toBe(1);
  });
});

describe('parseTelemetry: form 2, timed', () => {
  it.each<[string, unknown, number]>([
    ['the contract example (epoch ms)', 1764236400000, 1764236400000],
    ['epoch ms in the past', 1700000000000, 1700000000000],
    ['epoch 0', 0, 0],
    ['epoch ms as a digit string', '1764236400000', 1764236400000],
    ['ISO 8601 UTC', '2025-11-27T09:40:00Z', NOW],
    ['ISO 8601 with milliseconds', '2025-11-27T09:39:59.123Z', NOW - 877],
    ['ISO 8601 with +01:00', '2025-11-27T10:40:00+01:00', NOW],
    ['ISO 8601 with -05:00', '2025-11-27T04:40:00-05:00', NOW],
    ['ISO 8601 with +05:30', '2025-11-27T15:10:00+05:30', NOW],
    ['ISO 8601 with +0100', '2025-11-27T10:40:00+0100', NOW],
    ['ISO 8601 without an offset (UTC)', '2025-11-27T09:40:00', NOW],
    ['ISO 8601 date only', '2025-11-27', Date.UTC(2025, 10, 27)],
    ['exactly 5 minutes ahead (epoch ms)', NOW + SKEW, NOW + SKEW],
    ['exactly 5 minutes ahead (ISO with offset)', '2025-11-27T10:45:00+01:00', NOW + SKEW],
    ['4 min 59.999 s ahead', NOW + SKEW - 1, NOW + SKEW - 1],
  ])('accepts %s', (_what, ts, expected) => {
    expect(expectAccepted(parse({ ts, values: { temperature: 21.5 } }))).toEqual([
      { ts: expected, values: { temperature: 21.5 } },
    ]);
  });

  it.each<[string, unknown]>([
    ['1 ms more than 5 minutes ahead (epoch ms)', NOW + SKEW + 1],
    ['1 ms more than 5 minutes ahead (digit string)', String(NOW + SKEW + 1)],
    ['1 ms more than 5 minutes ahead (ISO Z)', '2025-11-27T09:45:00.001Z'],
    ['1 ms more than 5 minutes ahead (ISO +01:00)', '2025-11-27T10:45:00.001+01:00'],
    ['1 ms more than 5 minutes ahead (ISO -08:00)', '2025-11-27T01:45:00.001-08:00'],
    ['an hour ahead', NOW + 3_600_000],
    ['next year', '2026-11-27T09:40:00Z'],
    ['the far future', Number.MAX_SAFE_INTEGER],
  ])('refuses %s as future_timestamp', (_what, ts) => {
    const error = expectRejected(parse({ ts, values: { a: 1 } }), 'future_timestamp');
    expect(error).toMatch(/^ts: .*5 minutes ahead/);
  });

  it('measures the skew against options.now, not the wall clock', () => {
    expectAccepted(parse({ ts: NOW + SKEW, values: { a: 1 } }));
    expectRejected(parse({ ts: NOW + SKEW, values: { a: 1 } }, { now: NOW - 1 }), 'future_timestamp');
  });

  it.each<[string, unknown]>([
    ['negative epoch ms', -1],
    ['fractional epoch ms', 1764236400000.5],
    ['boolean', true],
    ['null', null],
    ['object', {}],
    ['array', [NOW]],
    ['empty string', ''],
    ['free text', 'yesterday'],
    ['an impossible date', '2025-02-30T00:00:00Z'],
    ['a time zone name', '2025-11-27T09:40:00 CET'],
    ['before the epoch', '1969-12-31T23:59:59Z'],
    ['RFC 1123', 'Thu, 27 Nov 2025 09:40:00 GMT'],
  ])('refuses a ts that is %s as invalid_telemetry', (_what, ts) => {
    const error = expectRejected(parse({ ts, values: { a: 1 } }), 'invalid_telemetry');
    expect(error).toMatch(/^ts: /);
  });

  it.each<[string, unknown]>([
    ['ts without values', { ts: NOW }],
    ['ts with a value beside it', { ts: NOW, temperature: 21.5 }],
    ['values without ts', { values: { a: 1 } }],
    ['a flat value named values', { values: 3 }],
  ])('refuses %s', (_what, payload) => {
    const error = expectRejected(parse(payload), 'invalid_telemetry');
    expect(error).toBe('ts: a timed entry needs both "ts" and "values"');
  });

  it.each<[string, unknown, RegExp]>([
    ['empty values', { ts: NOW, values: {} }, /^values: at least one value/],
    ['values as an array', { ts: NOW, values: [1, 2] }, /^values/],
    ['values as a number', { ts: NOW, values: 5 }, /^values/],
    ['values as null', { ts: NOW, values: null }, /^values/],
    ['a nested object', { ts: NOW, values: { a: { b: 1 } } }, /^values\.a: /],
    ['a null value', { ts: NOW, values: { a: null } }, /^values\.a: /],
    ['a bad key', { ts: NOW, values: { '1a': 1 } }, /^values\.1a: telemetry keys must match/],
    ['a long string', { ts: NOW, values: { s: x(257) } }, /^values\.s: strings may have at most 256 characters/],
    ['an unknown key beside ts and values', { ts: NOW, values: { a: 1 }, extra: true }, /extra/],
  ])('refuses %s as invalid_telemetry', (_what, payload, message) => {
    expect(expectRejected(parse(payload), 'invalid_telemetry')).toMatch(message);
  });
});

describe('parseTelemetry: form 3, batch', () => {
  it('accepts a mix of flat and timed entries, in order', () => {
    const entries = expectAccepted(
      parse([
        { a: 1 },
        { ts: NOW - 1000, values: { b: 'x' } },
        { ts: '2025-11-27T10:39:58+01:00', values: { c: false } },
        { d: 2.5 },
      ]),
    );
    expect(entries).toEqual([
      { ts: NOW, values: { a: 1 } },
      { ts: NOW - 1000, values: { b: 'x' } },
      { ts: NOW - 2000, values: { c: false } },
      { ts: NOW, values: { d: 2.5 } },
    ]);
  });

  it('accepts a batch of one', () => {
    expect(expectAccepted(parse([{ a: 1 }]))).toEqual([{ ts: NOW, values: { a: 1 } }]);
  });

  it.each([
    [1, true],
    [999, true],
    [LIMITS.maxBatchEntries, true],
    [LIMITS.maxBatchEntries + 1, false],
    [5000, false],
  ])('with the default limit, a batch of %p entries is accepted: %p', (n, accepted) => {
    const batch = Array.from({ length: n }, (_, i) => ({ ts: NOW - i, values: { v: i } }));
    const result = parse(batch);
    if (accepted) {
      const entries = expectAccepted(result);
      expect(entries).toHaveLength(n);
      expect(entries[n - 1]).toEqual({ ts: NOW - (n - 1), values: { v: n - 1 } });
    } else {
      expect(expectRejected(result, 'batch_too_large')).toContain(`at most ${LIMITS.maxBatchEntries} entries`);
    }
  });

  it('sizes the 1001-entry test batch below the payload cap, so the count is what refuses it', () => {
    const payload = JSON.stringify(Array.from({ length: 1001 }, (_, i) => ({ ts: NOW - i, values: { v: i } })));
    expect(Buffer.byteLength(payload)).toBeLessThan(LIMITS.maxPayloadBytes);
  });

  it('refuses an over-long batch even when its entries are bad too', () => {
    expectRejected(parse(Array.from({ length: 1001 }, () => ({ '1bad': null }))), 'batch_too_large');
  });

  it.each([
    [3, 3, true],
    [3, 4, false],
    [1, 1, true],
    [1, 2, false],
    [5000, 5000, true],
  ])('honours maxBatchEntries=%p (batch of %p accepted: %p)', (max, n, accepted) => {
    const batch = Array.from({ length: n }, (_, i) => ({ v: i }));
    const result = parse(batch, { maxBatchEntries: max });
    if (accepted) expect(expectAccepted(result)).toHaveLength(n);
    else expectRejected(result, 'batch_too_large');
  });

  it('refuses an empty batch', () => {
    expect(expectRejected(parse('[]'), 'invalid_telemetry')).toBe('a batch needs at least one entry');
  });

  const good = { a: 1 };
  const timedGood = { ts: NOW, values: { b: 2 } };
  it.each<[string, unknown, number, TelemetryRejection]>([
    ['a bad key', { '1a': 1 }, 0, 'invalid_telemetry'],
    ['a nested object', { a: { b: 1 } }, 1, 'invalid_telemetry'],
    ['a null value', { a: null }, 2, 'invalid_telemetry'],
    ['an empty object', {}, 1, 'invalid_telemetry'],
    ['ts without values', { ts: NOW }, 2, 'invalid_telemetry'],
    ['a null entry', null, 0, 'invalid_telemetry'],
    ['a number entry', 5, 1, 'invalid_telemetry'],
    ['a nested batch', [good], 2, 'invalid_telemetry'],
    ['a string over 256 characters', { s: x(257) }, 1, 'invalid_telemetry'],
    ['a future timestamp', { ts: NOW + SKEW + 1, values: { a: 1 } }, 2, 'future_timestamp'],
    ['a bad timestamp', { ts: 'soon', values: { a: 1 } }, 0, 'invalid_telemetry'],
  ])('refuses the whole batch for %s (at index %p)', (_what, bad, index, reason) => {
    const batch: unknown[] = [good, timedGood, good];
    batch[index] = bad;
    const error = expectRejected(parse(batch), reason);
    expect(error.startsWith(`[${index}]`)).toBe(true);
  });

  it('refuses a 1000-entry batch whose last entry is bad', () => {
    const batch: unknown[] = Array.from({ length: 1000 }, (_, i) => ({ v: i }));
    batch[999] = { v: 'x'.repeat(257) };
    expect(expectRejected(parse(batch), 'invalid_telemetry')).toMatch(/^\[999\]\.v: /);
  });
});

describe('parseTelemetry: payload size', () => {
  /** A flat payload of exactly `bytes` bytes. */
  const flatOfSize = (bytes: number) => {
    const payload = `{"s":"${x(bytes - 8)}"}`;
    expect(Buffer.byteLength(payload)).toBe(bytes);
    return payload;
  };

  it.each([
    [100, 100, true],
    [100, 101, false],
    [1024, 1024, true],
    [1024, 1025, false],
  ])('with maxPayloadBytes=%p, a %p-byte payload is accepted: %p', (max, size, accepted) => {
    // Values are limited to 256 characters, so use many keys to reach larger sizes.
    const payload = size <= 256 + 8 ? flatOfSize(size) : padded(size);
    const result = parse(payload, { maxPayloadBytes: max });
    if (accepted) expectAccepted(result);
    else expect(expectRejected(result, 'payload_too_large')).toContain(`${max}-byte limit`);
  });

  /** A valid flat payload of exactly `bytes` bytes (at least 20), padded with whitespace. */
  function padded(bytes: number): string {
    const body = '{"a":1}';
    const payload = body + ' '.repeat(bytes - body.length);
    expect(Buffer.byteLength(payload)).toBe(bytes);
    return payload;
  }

  it.each([
    [LIMITS.maxPayloadBytes, true],
    [LIMITS.maxPayloadBytes + 1, false],
  ])('with the default limit (256 KiB), a %p-byte payload is accepted: %p', (size, accepted) => {
    const result = parse(padded(size));
    if (accepted) expectAccepted(result);
    else expectRejected(result, 'payload_too_large');
  });

  it('counts bytes, not characters', () => {
    const payload = `{"s":"${'é'.repeat(50)}"}`; // 58 characters, 108 bytes
    expect(payload.length).toBe(58);
    expectRejected(parse(payload, { maxPayloadBytes: 100 }), 'payload_too_large');
    expectRejected(parse(Buffer.from(payload), { maxPayloadBytes: 100 }), 'payload_too_large');
    expectAccepted(parse(payload, { maxPayloadBytes: 108 }));
  });

  it('checks the size before parsing, so an oversized non-JSON payload is payload_too_large', () => {
    expectRejected(parse('{'.repeat(200), { maxPayloadBytes: 100 }), 'payload_too_large');
  });

  it('refuses a payload above the broker packet cap as payload_too_large, too', () => {
    expectRejected(parse(Buffer.alloc(LIMITS.maxPacketBytes + 1, 0x20)), 'payload_too_large');
  });
});

describe('parseTelemetry: invalid JSON', () => {
  it.each([
    [''],
    [' '],
    ['{'],
    ['{"a":1'],
    ['{"a":1,}'],
    ["{'a':1}"],
    ['{a:1}'],
    ['{"a":NaN}'],
    ['{"a":Infinity}'],
    ['{"a":-Infinity}'],
    ['{"a":undefined}'],
    ['undefined'],
    ['NaN'],
    ['online'],
    ['{"a":1}{"b":2}'],
    ['\uFEFF{"a":1}'],
    ['{"a":0x10}'],
  ])('refuses %p as invalid_json', (payload) => {
    expect(expectRejected(parse(payload), 'invalid_json')).toBe('payload is not valid JSON');
  });

  it('refuses invalid JSON in a Buffer', () => {
    expectRejected(parse(Buffer.from([0x7b, 0xff, 0xfe])), 'invalid_json');
  });
});

describe('parseTelemetry: valid JSON that is not telemetry', () => {
  it.each<[string, string, RegExp]>([
    ['an empty object', '{}', /at least one value/],
    ['null', 'null', /expected an object/],
    ['a number', '42', /expected an object/],
    ['a string', '"online"', /expected an object/],
    ['true', 'true', /expected an object/],
    ['a nested object', '{"a":{"b":1}}', /^a: a value must be a finite number, a boolean, or a string/],
    ['an array value', '{"a":[1,2]}', /^a: /],
    ['a null value', '{"a":null}', /^a: /],
    ['a number that overflows to Infinity', '{"a":1e400}', /^a: /],
    ['a number that overflows to -Infinity', '{"a":-1e400}', /^a: /],
    ['a string over 256 characters', `{"s":"${x(257)}"}`, /^s: strings may have at most 256 characters/],
    ['a string over 256 two-byte characters', `{"s":"${'é'.repeat(257)}"}`, /^s: /],
    ['a key starting with a digit', '{"1a":1}', /^1a: telemetry keys must match/],
    ['a key starting with .', '{".a":1}', /^\.a: /],
    ['a key starting with -', '{"-a":1}', /^-a: /],
    ['an empty key', '{"":1}', /telemetry keys must match/],
    ['a key with a space', '{"a b":1}', /^a b: /],
    ['a key with a slash', '{"a/b":1}', /^a\/b: /],
    ['a key with a $', '{"$a":1}', /^\$a: /],
    ['a non-ASCII key', '{"température":1}', /telemetry keys must match/],
    ['a 65-character key', `{"${x(65)}":1}`, /telemetry keys must match/],
    ['a __proto__ key', '{"__proto__":1}', /__proto__/],
    ['a __proto__ key beside a good one', '{"__proto__":1,"a":2}', /__proto__/],
    ['a __proto__ object beside a good one', '{"a":2,"__proto__":{"polluted":true}}', /__proto__/],
    ['a __proto__ key in timed values', `{"ts":${NOW},"values":{"a":1,"__proto__":2}}`, /^values\.__proto__/],
    ['a __proto__ key beside ts and values', `{"ts":${NOW},"values":{"a":1},"__proto__":2}`, /__proto__/],
    ['one bad value among good ones', '{"a":1,"b":2,"c":null}', /^c: /],
  ])('refuses %s as invalid_telemetry', (_what, payload, message) => {
    expect(expectRejected(parse(payload), 'invalid_telemetry')).toMatch(message);
  });

  it('does not pollute Object.prototype', () => {
    parse('{"__proto__":{"polluted":true},"a":1}');
    parse('[{"__proto__":{"polluted":true},"a":1}]');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('isPlainValues (the check that spares zod on valid values)', () => {
  /** mulberry32: the same sequence on every run. */
  function seeded(seed: number): () => number {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const keys = ['a', 'temp', '_x', 'power.l1', 'fan-speed', x(64), x(65), '1a', '.a', 'a b', '$a', '', 'é', 'a/b'];
  const special = ['__proto__', 'constructor', 'toString'];
  const values: unknown[] = [0, -0, 1.5, -1e308, Number.MAX_VALUE, NaN, Infinity, -Infinity, true, false];
  values.push('', 'x', x(LIMITS.maxStringValueLength), x(LIMITS.maxStringValueLength + 1), null, undefined, [], {}, [
    1,
  ]);

  it('says yes exactly when the schema accepts the values unchanged (but never to __proto__)', () => {
    const random = seeded(20261127);
    const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const raw: Record<string, unknown> = {};
      const n = Math.floor(random() * 4);
      for (let k = 0; k < n; k++) {
        // An own data property, as JSON.parse makes it, even for __proto__.
        Object.defineProperty(raw, random() < 0.1 ? pick(special) : pick(keys), {
          value: pick(values),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      const schema = telemetryValuesSchema.safeParse(raw);
      const hasProto = Object.prototype.hasOwnProperty.call(raw, '__proto__');
      expect([raw, isPlainValues(raw)]).toEqual([raw, schema.success && !hasProto]);
      if (isPlainValues(raw)) {
        accepted++;
        expect(schema.data).toEqual(raw);
      }
    }
    expect(accepted).toBeGreaterThan(1_000);
  });

  it('leaves an object with inherited keys to the schema', () => {
    const inherited = Object.create({ a: 1 }) as Record<string, unknown>;
    expect(isPlainValues(inherited)).toBe(false);
    inherited['b'] = 2;
    expect(isPlainValues(inherited)).toBe(false);
  });
});

describe('parseTelemetry: results', () => {
  it('returns fresh entries that do not share the input objects', () => {
    const first = expectAccepted(parse({ a: 1 }));
    const second = expectAccepted(parse({ a: 1 }));
    expect(first).toEqual(second);
    expect(first[0]).not.toBe(second[0]);
  });

  it('gives flat entries of a batch the receive time passed in', () => {
    const entries = expectAccepted(parse([{ a: 1 }, { b: 2 }], { now: 42 }));
    expect(entries.map((e) => e.ts)).toEqual([42, 42]);
  });
});
