import { isIPv6 } from 'node:net';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/** How long the failures of one username from one address are counted, and how long that pair is refused past the limit. */
export const LOGIN_PAIR_WINDOW_SECONDS = 24 * 3600;
export const LOGIN_PAIR_BLOCK_SECONDS = 15 * 60;
/** How long the failures from one address are counted, and how long it is refused past the limit. */
export const LOGIN_ADDRESS_WINDOW_SECONDS = 24 * 3600;
export const LOGIN_ADDRESS_BLOCK_SECONDS = 24 * 3600;
/** The window of the per-username limit: past it, tries wait out the rest of the window, never longer. */
export const LOGIN_USER_WINDOW_SECONDS = 60;

export interface LoginThrottleLimits {
  /** Consecutive failures of a username from one address. */
  maxFailures: number;
  /** Failures from one address in LOGIN_ADDRESS_WINDOW_SECONDS. */
  maxFailuresPerAddress: number;
  /** Failures of a username from anywhere in LOGIN_USER_WINDOW_SECONDS. */
  maxFailuresPerUser: number;
}

/**
 * The address a limit is kept for: IPv4 as it is, IPv6 by its /64, which
 * one subscriber usually holds whole (counting single addresses would give
 * them 2^64 tries). IPv4-mapped IPv6 counts as IPv4.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!isIPv6(address)) return address;
  const [head, tail = ''] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * Login protection after rate-limiter-flexible's recipe: consecutive failures
 * of a username from one address (that pair blocked for a while: the real
 * user elsewhere is not locked out), failures per address per day (password
 * spraying), and a short per-username window against a guesser spread over
 * many addresses, which delays the real user by a minute at most. An attempt
 * is counted when it starts and given back if it succeeds, so a flood of
 * concurrent guesses is refused before any password hash is computed.
 */
export class LoginThrottle {
  private readonly pair: RateLimiterMemory;
  private readonly address: RateLimiterMemory;
  private readonly user: RateLimiterMemory;

  constructor(limits: LoginThrottleLimits) {
    this.pair = new RateLimiterMemory({
      keyPrefix: 'pair',
      points: limits.maxFailures,
      duration: LOGIN_PAIR_WINDOW_SECONDS,
      blockDuration: LOGIN_PAIR_BLOCK_SECONDS,
    });
    this.address = new RateLimiterMemory({
      keyPrefix: 'address',
      points: limits.maxFailuresPerAddress,
      duration: LOGIN_ADDRESS_WINDOW_SECONDS,
      blockDuration: LOGIN_ADDRESS_BLOCK_SECONDS,
    });
    this.user = new RateLimiterMemory({
      keyPrefix: 'user',
      points: limits.maxFailuresPerUser,
      duration: LOGIN_USER_WINDOW_SECONDS,
    });
  }

  /**
   * Counts an attempt; returns 0 when it may go on, else the ms to wait
   * (the attempt is then not made). Settle an allowed attempt with `settle`.
   */
  async begin(username: string, address: string | undefined): Promise<number> {
    const keys = this.keys(username, address);
    // A refused attempt costs nothing more: check before counting.
    let wait = 0;
    for (const [limiter, key] of keys) {
      const res = await limiter.get(key);
      if (res && res.consumedPoints > limiter.points) wait = Math.max(wait, res.msBeforeNext);
    }
    if (wait > 0) return wait;
    // Concurrent attempts all pass the check above; counting refuses those past a limit. A
    // refused attempt is not counted by the limits after the one that refused it.
    for (const [limiter, key] of keys) {
      try {
        await limiter.consume(key);
      } catch (error) {
        if (!(error instanceof RateLimiterRes)) throw error;
        return Math.max(error.msBeforeNext, 1);
      }
    }
    return 0;
  }

  /** After an allowed attempt: a success clears the pair's failures and gives back the others' point. */
  async settle(username: string, address: string | undefined, succeeded: boolean): Promise<void> {
    if (!succeeded) return;
    const [[pair, pairKey], ...others] = this.keys(username, address);
    await pair.delete(pairKey);
    for (const [limiter, key] of others) await limiter.reward(key);
  }

  private keys(username: string, address: string | undefined): Array<[RateLimiterMemory, string]> {
    const from = addressKey(address);
    return [
      [this.pair, `${username}\n${from}`],
      [this.address, from],
      [this.user, username],
    ];
  }
}
