import { stateDelta } from './state';

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
