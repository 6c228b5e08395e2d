export interface BackoffOptions {
  /** The delay before the first retry, before jitter. */
  baseMs: number;
  /** No delay is longer than this. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, maxMs: 30_000 };

/**
 * Exponential backoff with "equal jitter": half of the exponential step is
 * fixed and half random, so retries keep growing yet a fleet of tabs that lost
 * the api at the same moment does not come back at the same moment.
 *
 * @param attempt 0 for the first retry.
 * @param random a number in [0, 1), Math.random by default.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random = Math.random()): number {
  const step = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt));
  return Math.round(step / 2 + (step / 2) * random);
}
