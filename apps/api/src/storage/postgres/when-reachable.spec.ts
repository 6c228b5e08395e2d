import { DatabaseUnreachableError } from '../../domain/database';
import { isUnreachable, whenReachable } from './when-reachable';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('whenReachable', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('retries while the database is unreachable and returns once it answers, saying so every 10 s', async () => {
    const onWait = jest.fn();
    let calls = 0;
    const attempt = jest.fn(async () => {
      if (++calls < 10) throw refused();
      return 'open';
    });
    const sut = whenReachable(attempt, { timeoutMs: 60_000, onWait });
    await jest.advanceTimersByTimeAsync(20_000);
    await expect(sut).resolves.toBe('open');
    expect(attempt).toHaveBeenCalledTimes(10);
    // Pauses of 0.25, 0.5, 1, 2, 2, … s: the 10th attempt comes about 13.75 s in; reported at 0 and after 10 s.
    expect(onWait.mock.calls.map(([message]) => message)).toEqual([
      'PostgreSQL is not reachable (connect ECONNREFUSED 127.0.0.1:5432); retrying for up to 60 s',
      'PostgreSQL is not reachable (connect ECONNREFUSED 127.0.0.1:5432); retrying for up to 60 s',
    ]);
  });

  it('gives up after the timeout with a DatabaseUnreachableError naming the variable and the last reason', async () => {
    const attempt = jest.fn(() => Promise.reject(refused()));
    const sut = whenReachable(attempt, { timeoutMs: 5_000, onWait: () => undefined });
    const settled = expect(sut).rejects.toThrow(
      new DatabaseUnreachableError(
        'PostgreSQL could not be reached within 5 s (DATABASE_CONNECT_TIMEOUT_SECONDS): connect ECONNREFUSED 127.0.0.1:5432',
      ),
    );
    await jest.advanceTimersByTimeAsync(6_000);
    await settled;
    await expect(sut).rejects.toBeInstanceOf(DatabaseUnreachableError);
    // 0.25 + 0.5 + 1 + 2 = 3.75 s of pauses; the next 2 s would pass the 5 s.
    expect(attempt).toHaveBeenCalledTimes(5);
  });

  it('tries once with a timeout of 0, and fails at once on anything but an unreachable server', async () => {
    const once = jest.fn(() => Promise.reject(refused()));
    await expect(whenReachable(once, { timeoutMs: 0, onWait: () => undefined })).rejects.toBeInstanceOf(
      DatabaseUnreachableError,
    );
    expect(once).toHaveBeenCalledTimes(1);
    const denied = Object.assign(new Error('password authentication failed for user "iot"'), { code: '28P01' });
    const refusedLogin = jest.fn(() => Promise.reject(denied));
    await expect(whenReachable(refusedLogin, { timeoutMs: 60_000, onWait: () => undefined })).rejects.toBe(denied);
    expect(refusedLogin).toHaveBeenCalledTimes(1);
  });

  it('counts as unreachable: network errors, every address refusing, a server starting up, pg timeouts', () => {
    expect(isUnreachable(refused())).toBe(true);
    expect(isUnreachable(new AggregateError([refused(), refused()]))).toBe(true);
    expect(isUnreachable(new AggregateError([refused(), new Error('boom')]))).toBe(false);
    expect(isUnreachable(Object.assign(new Error('the database system is starting up'), { code: '57P03' }))).toBe(true);
    expect(isUnreachable(new Error('timeout expired'))).toBe(true);
    expect(isUnreachable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isUnreachable(Object.assign(new Error('database "iot" does not exist'), { code: '3D000' }))).toBe(false);
    expect(isUnreachable('ECONNREFUSED')).toBe(false);
  });
});
