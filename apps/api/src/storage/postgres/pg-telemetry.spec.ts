import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import { jsonbSafe, literalArray, textArray } from './pg-telemetry';

/** Compiles without a server: what the statement text and parameters would be. */
const db = new Kysely<unknown>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

describe('textArray', () => {
  it('joins the strings into one parameter the server splits', () => {
    const sut = sql`SELECT ${textArray(['{"a":"x,\\"y"}', 'b\\', ''])}`.compile(db);

    expect(sut.sql).toBe('SELECT string_to_array($1::text, $2, $3)');
    expect(sut.parameters).toEqual(['{"a":"x,\\"y"}\x1eb\\\x1e', '\x1e', '\x1f']);
  });

  it('sends null as the element the server reads as NULL', () => {
    const sut = sql`SELECT ${textArray(['a', null, ''])}`.compile(db);

    expect(sut.parameters[0]).toBe('a\x1e\x1f\x1e');
  });

  it('falls back to an array when a string is the NULL marker', () => {
    const list = ['a', '\x1f'];

    const sut = sql`SELECT ${textArray(list)}`.compile(db);

    expect(sut.sql).toBe('SELECT $1::text[]');
    expect(sut.parameters).toEqual([list]);
  });

  it('falls back to an array when a string holds the separator', () => {
    const list = ['a', 'b\x1ec'];

    const sut = sql`SELECT ${textArray(list)}`.compile(db);

    expect(sut.sql).toBe('SELECT $1::text[]');
    expect(sut.parameters).toEqual([list]);
  });

  it('falls back to an array for one string, which may be empty', () => {
    const sut = sql`SELECT ${textArray([''])}`.compile(db);

    expect(sut.parameters).toEqual([['']]);
  });
});

describe('literalArray', () => {
  it('writes an array literal of numbers, booleans and NULL', () => {
    const sut = literalArray;

    expect(sut([1, 1_733_548_800_000, -2, 0.1, 1e21, null])).toBe('{1,1733548800000,-2,0.1,1e+21,NULL}');
    expect(sut([true, false, null])).toBe('{true,false,NULL}');
    expect(sut([])).toBe('{}');
  });
});

describe('jsonbSafe', () => {
  it('replaces an escaped NUL but not an escaped backslash before u0000', () => {
    const sut = jsonbSafe;

    expect(sut('{"a":"x\\u0000","b":"\\\\u0000"}')).toBe('{"a":"x\\ufffd","b":"\\\\u0000"}');
  });
});
