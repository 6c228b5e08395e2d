import { stateDelta } from '@iot/protocol';
import { mergePatch, parseJsonObject } from './state-doc';

describe('state documents', () => {
  it('stateDelta compares nested objects key by key and arrays whole', () => {
    expect(
      stateDelta(
        { a: 1, b: { c: 1, d: 2 }, e: [1, 2], f: 'same' },
        { a: 2, b: { c: 1, d: 3 }, e: [1, 2], f: 'same', g: 1 },
      ),
    ).toEqual({ a: 1, b: { d: 2 } });
  });

  it('mergePatch follows RFC 7386', () => {
    expect(mergePatch({ a: 1, b: { c: 1, d: 2 }, e: 1 }, { a: null, b: { d: null, x: 1 }, e: [1] })).toEqual({
      b: { c: 1, x: 1 },
      e: [1],
    });
  });

  it('parseJsonObject accepts objects only', () => {
    expect(parseJsonObject('{"a":1}')).toEqual({ value: { a: 1 } });
    expect(parseJsonObject('[1]')).toHaveProperty('error');
    expect(parseJsonObject('{a:1}')).toHaveProperty('error');
  });
});
