import { LIMITS } from './limits';
import { applyMergePatch, stateDelta, statePatchProblem } from './state';

describe('stateDelta', () => {
  it.each([
    ['equal documents', { a: 1, b: { c: true } }, { a: 1, b: { c: true } }, {}],
    ['a changed scalar', { a: 2 }, { a: 1 }, { a: 2 }],
    ['a key only in desired', { a: 1, b: 'x' }, { a: 1 }, { b: 'x' }],
    ['a key only in reported', { a: 1 }, { a: 1, extra: 5 }, {}],
    ['a nested change, key by key', { n: { x: 1, y: 2 } }, { n: { x: 1, y: 3 } }, { n: { y: 2 } }],
    ['arrays compared whole', { list: [1, 2] }, { list: [1, 2, 3] }, { list: [1, 2] }],
    ['equal arrays', { list: [1, { a: 2 }] }, { list: [1, { a: 2 }] }, {}],
    ['an object against a scalar', { n: { x: 1 } }, { n: 5 }, { n: { x: 1 } }],
    ['a number against a string', { a: 1 }, { a: '1' }, { a: 1 }],
  ])('%s', (_name, desired, reported, expected) => {
    expect(stateDelta(desired, reported)).toEqual(expected);
  });
});

describe('statePatchProblem', () => {
  const nested = (depth: number) =>
    JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)) as Record<string, unknown>;

  it('accepts a patch nested to the limit and names the limit past it', () => {
    expect(statePatchProblem(nested(LIMITS.maxStateDepth))).toBeUndefined();
    expect(statePatchProblem(nested(LIMITS.maxStateDepth + 1))).toContain(`${LIMITS.maxStateDepth} levels`);
    expect(statePatchProblem(nested(5_000))).toContain(`${LIMITS.maxStateDepth} levels`);
  });

  it('refuses a __proto__ key and takes constructor and prototype as data', () => {
    expect(statePatchProblem(JSON.parse('{"a":{"__proto__":{"x":1}}}'))).toContain('__proto__');
    expect(statePatchProblem({ constructor: { prototype: 1 } })).toBeUndefined();
  });
});

describe('applyMergePatch', () => {
  it.each([
    ['adds and replaces keys', { a: 1, b: 2 }, { b: 3, c: 4 }, { a: 1, b: 3, c: 4 }],
    ['removes a key with null', { a: 1, b: 2 }, { a: null }, { b: 2 }],
    ['merges nested objects', { n: { x: 1, y: 2 } }, { n: { y: null, z: 3 } }, { n: { x: 1, z: 3 } }],
    ['replaces arrays whole', { list: [1, 2] }, { list: [3] }, { list: [3] }],
    ['replaces a scalar with an object, without its nulls', { n: 5 }, { n: { x: 1, y: null } }, { n: { x: 1 } }],
    ['ignores null for a missing key', { a: 1 }, { b: null }, { a: 1 }],
  ])('%s', (_name, target, patch, expected) => {
    expect(applyMergePatch(target, patch)).toEqual(expected);
  });

  it('leaves the target as it was', () => {
    const target = { n: { x: 1 }, keep: { y: 2 } };
    const result = applyMergePatch(target, { n: { x: 2 } });
    expect(target).toEqual({ n: { x: 1 }, keep: { y: 2 } });
    expect(result).toEqual({ n: { x: 2 }, keep: { y: 2 } });
  });

  it('applies constructor, prototype and hasOwnProperty keys as data, and every key after them', () => {
    const result = applyMergePatch(
      { hasOwnProperty: 1 },
      { a: 1, constructor: { x: 1 }, prototype: 2, hasOwnProperty: null, toString: { y: 1 }, b: 2 },
    );
    expect(JSON.stringify(result)).toBe('{"a":1,"constructor":{"x":1},"prototype":2,"toString":{"y":1},"b":2}');
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
  });

  it('never sets a prototype from a __proto__ key', () => {
    const result = applyMergePatch({}, JSON.parse('{"__proto__":{"polluted":true}}'));
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect((result as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(JSON.stringify(result)).toBe('{"__proto__":{"polluted":true}}');
  });
});
