import { MAX_WEBHOOK_ATTEMPTS } from '@iot/protocol';
import { retryDelayMs } from './webhook-backoff';

describe('retryDelayMs', () => {
  it('waits 10 s, 30 s, 2 min, 10 min, then 1 h, and gives up after the last attempt', () => {
    const sut = (attempts: number) => retryDelayMs(attempts, 10_000, 0.5);
    expect([1, 2, 3, 4, 5, 6, 7].map(sut)).toEqual([10_000, 30_000, 120_000, 600_000, 3_600_000, 3_600_000, 3_600_000]);
    expect(sut(MAX_WEBHOOK_ATTEMPTS)).toBeUndefined();
  });

  it('spreads each delay by at most a fifth either way', () => {
    expect(retryDelayMs(1, 10_000, 0)).toBe(8_000);
    expect(retryDelayMs(1, 10_000, 0.999_999)).toBe(12_000);
    expect(retryDelayMs(2, 100, 0.25)).toBe(270);
  });
});
