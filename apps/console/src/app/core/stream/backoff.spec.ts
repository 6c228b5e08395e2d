import { backoffDelay, DEFAULT_BACKOFF } from './backoff';

describe('backoffDelay', () => {
  it('doubles the step on every attempt, half of it fixed and half random', () => {
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(attempt, DEFAULT_BACKOFF, 0))).toEqual([500, 1000, 2000, 4000]);
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(attempt, DEFAULT_BACKOFF, 0.999999))).toEqual([
      1000, 2000, 4000, 8000,
    ]);
  });

  it('never waits longer than the maximum, however many attempts', () => {
    expect(backoffDelay(5, DEFAULT_BACKOFF, 0.999999)).toBe(30_000);
    expect(backoffDelay(40, DEFAULT_BACKOFF, 0.999999)).toBe(30_000);
    expect(backoffDelay(1_000, DEFAULT_BACKOFF, 0)).toBe(15_000);
  });

  it('spreads retries by the random number it is given', () => {
    expect(backoffDelay(4, DEFAULT_BACKOFF, 0.25)).not.toBe(backoffDelay(4, DEFAULT_BACKOFF, 0.75));
  });
});
