import { type Answer, type Channel, runPhase, spread } from './round-trips';

/** A channel that answers each request as `reply` says, on the next turn (or never, for undefined). */
function fakeChannel(reply: (requestId: string, n: number) => Parameters<Answer>[1] | undefined): Channel & {
  sent: Array<{ requestId: string; device: number }>;
  inFlight: number;
  maxInFlight: number;
} {
  const channel = {
    sent: [] as Array<{ requestId: string; device: number }>,
    inFlight: 0,
    maxInFlight: 0,
    strays: [] as string[],
    onAnswer: (() => undefined) as Answer,
    request(requestId: string, device: number) {
      channel.sent.push({ requestId, device });
      channel.inFlight++;
      channel.maxInFlight = Math.max(channel.maxInFlight, channel.inFlight);
      const outcome = reply(requestId, channel.sent.length);
      if (outcome)
        setImmediate(() => {
          channel.inFlight--;
          channel.onAnswer(requestId, outcome);
        });
    },
    close: () => undefined,
  };
  return channel;
}

describe('spread', () => {
  it('splits the requests in flight over the channels, the first ones taking the rest', () => {
    expect(spread(200, 20)).toEqual(Array(20).fill(10));
    expect(spread(7, 3)).toEqual([3, 2, 2]);
  });
});

describe('runPhase', () => {
  it('keeps each channel at its window until the total is sent, round-robin over the devices', async () => {
    const channels = [fakeChannel(() => ({ kind: 'done' })), fakeChannel(() => ({ kind: 'done' }))];

    const sut = await runPhase(channels, [3, 1], 20, 4, 1_000, 't');

    expect(sut).toMatchObject({ sent: 20, answered: 20, done: 20, lost: 0, refused: 0, failed: 0, strays: 0 });
    expect(sut.latencies).toHaveLength(20);
    expect(channels.map((c) => c.maxInFlight)).toEqual([3, 1]);
    const devices = channels.flatMap((c) => c.sent).map((s) => s.device);
    expect(new Set(devices)).toEqual(new Set([0, 1, 2, 3]));
    expect(new Set(channels.flatMap((c) => c.sent).map((s) => s.requestId)).size).toBe(20);
  });

  it('counts refusals and other outcomes as answered but times only the done ones', async () => {
    const channel = fakeChannel((_id, n) =>
      n % 3 === 0
        ? { kind: 'refused', code: 'rate_limited' }
        : n % 3 === 1
          ? { kind: 'done' }
          : { kind: 'failed', detail: 'timed-out' },
    );

    const sut = await runPhase([channel], [1], 9, 1, 1_000, 't');

    expect(sut).toMatchObject({ sent: 9, answered: 9, done: 3, refused: 3, failed: 3, lost: 0 });
    expect(sut.latencies).toHaveLength(3);
    expect(sut.examples[0]).toContain('timed-out');
  });

  it('ends after a quiet spell with what is still in flight lost, and counts only its own strays', async () => {
    const frame = '{"event":"error","data":{"code":"bad_request"}}';
    const channel = fakeChannel((_id, n) => {
      if (n === 2) channel.strays.push(frame);
      return n === 3 ? undefined : { kind: 'done' };
    });
    channel.strays.push('a frame of an earlier phase');

    const sut = await runPhase([channel], [2], 10, 1, 300, 't');

    expect(sut).toMatchObject({ sent: 10, answered: 9, lost: 1, strays: 1, examples: [frame] });
  });
});
