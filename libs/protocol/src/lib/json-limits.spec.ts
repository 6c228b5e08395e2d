import { jsonShapeProblem } from './json-limits';

/** `{"a":{"a":…1…}}` nested `depth` objects deep, as JSON text. */
const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe('jsonShapeProblem', () => {
  it.each([
    ['a scalar', 5, 1],
    ['an empty object', {}, 1],
    ['objects at the limit', JSON.parse(nested(3)), 3],
    ['arrays and objects at the limit', [[{ a: [] }]], 4],
    ['constructor and prototype keys', { constructor: { prototype: 1 } }, 2],
  ])('accepts %s', (_name, value, maxDepth) => {
    expect(jsonShapeProblem(value, maxDepth)).toBeUndefined();
  });

  it.each([
    ['objects one past the limit', JSON.parse(nested(4)), 3],
    ['arrays one past the limit', [[[[]]]], 3],
    ['a deep value beside shallow ones', { x: 1, y: [1, 2], z: JSON.parse(nested(40)) }, 32],
  ])('finds %s too deep', (_name, value, maxDepth) => {
    expect(jsonShapeProblem(value, maxDepth)).toBe('too_deep');
  });

  it('walks 100,000 levels without overflowing the stack', () => {
    expect(jsonShapeProblem(JSON.parse(nested(100_000)), 32)).toBe('too_deep');
    expect(jsonShapeProblem(JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)), 32)).toBe('too_deep');
  });

  it('finds a __proto__ key at any depth, as JSON.parse makes it (an own property)', () => {
    expect(jsonShapeProblem(JSON.parse('{"__proto__":{"x":1}}'), 32)).toBe('proto_key');
    expect(jsonShapeProblem(JSON.parse('{"a":[{"b":{"__proto__":1}}]}'), 32)).toBe('proto_key');
  });
});
