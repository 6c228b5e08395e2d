import { MAX_WEBHOOK_ATTEMPTS } from '@iot/protocol';

/** Each retry's delay as a multiple of the first: 10 s, 30 s, 2 min, 10 min, 1 h, then 1 h, with a base of 10 s. */
const FACTORS = [1, 3, 12, 60, 360] as const;
/** Each delay is spread by up to this fraction either way, so that retries of many deliveries do not all fall due at once. */
const JITTER = 0.2;

/**
 * When to try a delivery again after its `attempts`-th attempt failed, in ms
 * from now, or undefined when that was its last attempt. `random` is in [0, 1).
 */
export function retryDelayMs(attempts: number, baseMs: number, random: number = Math.random()): number | undefined {
  if (attempts >= MAX_WEBHOOK_ATTEMPTS) return undefined;
  const factor = FACTORS[Math.min(attempts, FACTORS.length) - 1];
  return Math.round(baseMs * factor * (1 + JITTER * (2 * random - 1)));
}
