import { LOGIN_PAIR_BLOCK_SECONDS, LOGIN_USER_WINDOW_SECONDS, LoginThrottle, addressKey } from './login-throttle';

describe('addressKey', () => {
  it.each([
    ['10.1.2.3', '10.1.2.3'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:0:0:9', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
    [undefined, 'unknown'],
  ])('%s → %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});

describe('LoginThrottle', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  async function fail(throttle: LoginThrottle, username: string, address: string): Promise<number> {
    const wait = await throttle.begin(username, address);
    if (wait === 0) await throttle.settle(username, address, false);
    return wait;
  }

  it('blocks a username from one address for a while after consecutive failures, then lets it try again', async () => {
    const throttle = new LoginThrottle({ maxFailures: 2, maxFailuresPerAddress: 100, maxFailuresPerUser: 100 });
    expect(await fail(throttle, 'ann', '10.0.0.1')).toBe(0);
    expect(await fail(throttle, 'ann', '10.0.0.1')).toBe(0);
    expect(await fail(throttle, 'ann', '10.0.0.1')).toBeGreaterThan((LOGIN_PAIR_BLOCK_SECONDS - 1) * 1000);
    // Refused attempts are not counted, so a flood does not lengthen the block.
    expect(await throttle.begin('ann', '10.0.0.1')).toBeLessThanOrEqual(LOGIN_PAIR_BLOCK_SECONDS * 1000);
    expect(await throttle.begin('ann', '10.0.0.2')).toBe(0);
    jest.advanceTimersByTime(LOGIN_PAIR_BLOCK_SECONDS * 1000 + 1);
    expect(await throttle.begin('ann', '10.0.0.1')).toBe(0);
  });

  it('delays a username tried from many addresses only until its window ends', async () => {
    const throttle = new LoginThrottle({ maxFailures: 100, maxFailuresPerAddress: 100, maxFailuresPerUser: 3 });
    for (let i = 0; i < 3; i++) expect(await fail(throttle, 'bob', `10.0.1.${i}`)).toBe(0);
    const wait = await throttle.begin('bob', '10.0.2.1');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(LOGIN_USER_WINDOW_SECONDS * 1000);
    jest.advanceTimersByTime(LOGIN_USER_WINDOW_SECONDS * 1000 + 1);
    expect(await throttle.begin('bob', '10.0.2.1')).toBe(0);
  });

  it('gives a success its points back', async () => {
    const throttle = new LoginThrottle({ maxFailures: 2, maxFailuresPerAddress: 2, maxFailuresPerUser: 2 });
    for (let i = 0; i < 10; i++) {
      expect(await throttle.begin('cat', '10.0.3.1')).toBe(0);
      await throttle.settle('cat', '10.0.3.1', true);
    }
  });
});
