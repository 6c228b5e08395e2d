import { AckQueue } from './ack-queue';

/** The packet ids of PUBACK packets, checking each packet's fixed header. */
function ids(packets: Buffer): number[] {
  const found: number[] = [];
  for (let at = 0; at < packets.length; at += 4) {
    expect([packets[at], packets[at + 1]]).toEqual([0x40, 0x02]);
    found.push(packets.readUInt16BE(at + 2));
  }
  return found;
}

describe('AckQueue', () => {
  let sent: number[][];
  let failed: jest.Mock;
  let sut: AckQueue;

  beforeEach(() => {
    sent = [];
    failed = jest.fn();
    sut = new AckQueue((packets) => sent.push(ids(packets)), failed);
  });

  it('acknowledges in the order messages came, a stored one waiting behind an earlier one', () => {
    const first = sut.add(1);
    const second = sut.add(2);
    const third = sut.add(65_535);
    second();
    expect(sent).toEqual([]);
    first();
    expect(sent).toEqual([[1, 2]]);
    third();
    expect(sent).toEqual([[1, 2], [65_535]]);
    expect(sut.pending).toBe(0);
  });

  it('acknowledges each message once, however often it is settled', () => {
    const first = sut.add(1);
    first();
    first();
    expect(sent).toEqual([[1]]);
  });

  it('stops at the first error: nothing more is acknowledged and `failed` is called once', () => {
    const first = sut.add(1);
    const second = sut.add(2);
    const third = sut.add(3);
    second(new Error('not stored'));
    third(new Error('not stored'));
    first();
    expect(sent).toEqual([]);
    expect(failed).toHaveBeenCalledTimes(1);
  });

  it('acknowledges nothing after the connection ended', () => {
    const first = sut.add(1);
    sut.end();
    first();
    expect(sent).toEqual([]);
    expect(failed).not.toHaveBeenCalled();
  });

  it('keeps its order across many messages', () => {
    const settle = Array.from({ length: 5_000 }, (_, i) => sut.add(i + 1));
    for (let i = 0; i < 5_000; i += 2) settle[i]();
    for (let i = 4_999; i > 0; i -= 2) settle[i]();
    expect(sent.flat()).toEqual(Array.from({ length: 5_000 }, (_, i) => i + 1));
    const more = [sut.add(9), sut.add(10)];
    more[1]();
    more[0]();
    expect(sent.at(-1)).toEqual([9, 10]);
  });
});
