import { deviceModelJsonSchema, MODEL_LIMITS, parseDeviceModel, type DeviceModel } from './model';

const thermostat: DeviceModel = {
  id: 'acme.thermostat',
  version: 2,
  title: 'Thermostat',
  telemetry: {
    temperature: { type: 'number', title: 'Temperature', unit: '°C', precision: 1, chart: 'line' },
    heating: { type: 'boolean', title: 'Heating', chart: 'step' },
    mode: { type: 'enum', values: ['eco', 'comfort'] },
  },
  commands: {
    'setpoint.set': {
      title: 'Set the setpoint',
      params: {
        type: 'object',
        properties: { value: { type: 'number', minimum: 5, maximum: 30, unit: '°C', default: 21 } },
        required: ['value'],
        additionalProperties: false,
      },
      timeoutMs: 5000,
    },
    reboot: { title: 'Reboot' },
    'firmware.update': { longRunning: true, timeoutMs: 600_000 },
  },
  desired: { setpoint: { type: 'number', minimum: 5, maximum: 30 } },
  reported: { firmware: { type: 'string', maxLength: 32 } },
};

function errorOf(value: unknown): string {
  const parsed = parseDeviceModel(value);
  if (parsed.ok) throw new Error('expected a refusal');
  return parsed.error;
}

describe('parseDeviceModel', () => {
  it('takes a model with telemetry, commands and state', () => {
    expect(parseDeviceModel(JSON.parse(JSON.stringify(thermostat)))).toEqual({ ok: true, model: thermostat });
  });

  it('takes the smallest model: an id and a version', () => {
    expect(parseDeviceModel({ id: 'x', version: 1 })).toEqual({ ok: true, model: { id: 'x', version: 1 } });
  });

  it.each([
    ['an id with capitals', { id: 'Acme', version: 1 }, /^id: model ids/],
    ['version 0', { id: 'a', version: 0 }, /^version:/],
    ['an unknown top-level key', { id: 'a', version: 1, extra: true }, /extra/],
    [
      'a telemetry key outside the contract',
      { id: 'a', version: 1, telemetry: { '1x': { type: 'number' } } },
      /telemetry/,
    ],
    [
      'an enum key without values',
      { id: 'a', version: 1, telemetry: { m: { type: 'enum' } } },
      /^telemetry\.m\.values:/,
    ],
    ['values on a number key', { id: 'a', version: 1, telemetry: { m: { type: 'number', values: ['a'] } } }, /values/],
    [
      'minimum above maximum',
      { id: 'a', version: 1, telemetry: { t: { type: 'number', minimum: 2, maximum: 1 } } },
      /minimum/,
    ],
  ])('refuses %s', (_, value, error) => {
    expect(errorOf(value)).toMatch(error);
  });

  it.each([
    ['pattern', { type: 'string', pattern: '(a+)+$' }],
    ['$ref', { type: 'object', $ref: 'http://example.com/schema' }],
    ['format', { type: 'string', format: 'email' }],
    ['oneOf', { type: 'object', oneOf: [] }],
  ])('refuses the JSON Schema keyword %s, which is outside the subset', (_, schema) => {
    expect(errorOf({ id: 'a', version: 1, desired: { p: schema } })).toMatch(/unrecognized key/i);
  });

  it('refuses a keyword given to a type it does not apply to', () => {
    expect(errorOf({ id: 'a', version: 1, desired: { p: { type: 'string', minimum: 1 } } })).toBe(
      'desired.p.minimum: not for type string',
    );
  });

  it('refuses a required property the schema does not have', () => {
    const params = { type: 'object', properties: { a: { type: 'number' } }, required: ['b'] };
    expect(errorOf({ id: 'a', version: 1, commands: { go: { params } } })).toBe(
      'commands.go.params.required: b is not among the properties',
    );
  });

  it('refuses params that are not an object schema', () => {
    expect(errorOf({ id: 'a', version: 1, commands: { go: { params: { type: 'number' } } } })).toMatch(
      /^commands\.go\.params: the params schema is of type object/,
    );
  });

  it('refuses a __proto__ key anywhere, before looking at the shape', () => {
    const value = JSON.parse('{"id":"a","version":1,"desired":{"__proto__":{"type":"number"}}}');
    expect(errorOf(value)).toBe('a model may not have a __proto__ key');
  });

  it(`refuses a model nested deeper than ${MODEL_LIMITS.maxDepth} levels`, () => {
    let schema: Record<string, unknown> = { type: 'number' };
    for (let i = 0; i < 10; i++) schema = { type: 'object', properties: { p: schema } };
    expect(errorOf({ id: 'a', version: 1, desired: { p: schema } })).toBe(
      `a model may nest at most ${MODEL_LIMITS.maxDepth} levels`,
    );
  });

  it(`refuses a model over ${MODEL_LIMITS.maxModelBytes} bytes`, () => {
    const description = 'x'.repeat(MODEL_LIMITS.maxDescriptionLength);
    const telemetry = Object.fromEntries(
      Array.from({ length: 70 }, (_, i) => [`k${i}`, { type: 'number', description }]),
    );
    expect(errorOf({ id: 'a', version: 1, telemetry })).toBe(
      `a model may be at most ${MODEL_LIMITS.maxModelBytes} bytes`,
    );
  });

  it(`refuses more than ${MODEL_LIMITS.maxCommands} commands`, () => {
    const commands = Object.fromEntries(Array.from({ length: MODEL_LIMITS.maxCommands + 1 }, (_, i) => [`c${i}`, {}]));
    expect(errorOf({ id: 'a', version: 1, commands })).toBe(`commands: at most ${MODEL_LIMITS.maxCommands} commands`);
  });
});

describe('deviceModelJsonSchema', () => {
  it('describes the model format as JSON Schema 2020-12, with the value schema as a recursive definition', () => {
    const sut = deviceModelJsonSchema();
    expect(sut['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(sut['type']).toBe('object');
    expect(sut['required']).toEqual(['id', 'version']);
    expect(JSON.stringify(sut)).toContain('"$ref"');
  });
});
