import { RssSampler } from './proc';

describe('RssSampler', () => {
  afterEach(() => jest.useRealTimers());

  it('reads every 250 ms and reports the first, largest and last reading', () => {
    jest.useFakeTimers();
    const sut = new RssSampler(() => [process.pid], 250);

    sut.start();
    jest.advanceTimersByTime(1_000);
    const summary = sut.stop();

    // One at start, four from the timer, one at stop.
    expect(summary?.samples).toBe(6);
    expect(summary?.startMiB).toBeGreaterThan(0);
    expect(summary?.peakMiB).toBe(Math.max(...(summary?.timeline ?? []).map(([, mib]) => mib)));
    expect(summary?.endMiB).toBe(summary?.timeline.at(-1)?.[1]);
  });

  it('skips readings where every process has gone', () => {
    jest.useFakeTimers();
    let pids = [process.pid];
    const sut = new RssSampler(() => pids, 250);

    sut.start();
    pids = [2 ** 22 + 1];
    jest.advanceTimersByTime(1_000);

    expect(sut.stop()?.samples).toBe(1);
  });

  it('reports nothing when stopped without a start', () => {
    expect(new RssSampler(() => [process.pid]).stop()).toBeUndefined();
  });
});
