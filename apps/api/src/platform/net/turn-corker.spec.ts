import { Writable } from 'node:stream';
import { TurnCorker } from './turn-corker';

/** A stream that records each call to the sink: one entry per write or writev, with its chunks. */
function recording(): { stream: Writable; calls: string[][] } {
  const calls: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      calls.push([chunk.toString()]);
      callback();
    },
    writev(chunks, callback) {
      calls.push(chunks.map(({ chunk }) => (chunk as Buffer).toString()));
      callback();
    },
  });
  return { stream, calls };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('TurnCorker', () => {
  it('sends what one turn wrote, microtasks included, in one writev once the turn is done', async () => {
    const sut = new TurnCorker();
    const { stream, calls } = recording();

    sut.cork(stream);
    stream.write('a');
    await Promise.resolve();
    sut.cork(stream);
    stream.write('b');
    expect(calls).toEqual([]);

    await nextTurn();
    expect(calls).toEqual([['a', 'b']]);
  });

  it('uncorks each stream once, however often it was corked in the turn', async () => {
    const sut = new TurnCorker();
    const { stream, calls } = recording();

    for (let i = 0; i < 3; i++) sut.cork(stream);
    stream.write('a');
    await nextTurn();
    expect(stream.writableCorked).toBe(0);

    stream.write('b');
    expect(calls).toEqual([['a'], ['b']]);
  });

  it('corks again in a later turn', async () => {
    const sut = new TurnCorker();
    const { stream, calls } = recording();

    sut.cork(stream);
    stream.write('a');
    await nextTurn();
    sut.cork(stream);
    stream.write('b');
    stream.write('c');
    await nextTurn();

    expect(calls).toEqual([['a'], ['b', 'c']]);
  });

  it('keeps streams apart', async () => {
    const sut = new TurnCorker();
    const one = recording();
    const other = recording();

    sut.cork(one.stream);
    sut.cork(other.stream);
    one.stream.write('a');
    other.stream.write('x');
    one.stream.write('b');
    await nextTurn();

    expect(one.calls).toEqual([['a', 'b']]);
    expect(other.calls).toEqual([['x']]);
  });

  it("with 'immediate', holds writes of later ticks of the same turn too, until the check phase", async () => {
    const sut = new TurnCorker('immediate');
    const { stream, calls } = recording();

    sut.cork(stream);
    stream.write('a');
    await new Promise((resolve) => process.nextTick(resolve));
    await Promise.resolve();
    sut.cork(stream);
    stream.write('b');
    expect(calls).toEqual([]);

    await nextTurn();
    expect(calls).toEqual([['a', 'b']]);
  });

  it('lets end() flush a corked stream at once', async () => {
    const sut = new TurnCorker();
    const { stream, calls } = recording();

    sut.cork(stream);
    stream.write('a');
    stream.end('b');
    await nextTurn();

    expect(calls.flat()).toEqual(['a', 'b']);
  });
});
