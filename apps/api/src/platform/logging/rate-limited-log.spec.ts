import {
  LOG_LINES_PER_KEY,
  LOG_LINES_PER_WINDOW,
  LOG_WINDOW_MS,
  type LogFields,
  RateLimitedLog,
} from './rate-limited-log';

describe('RateLimitedLog', () => {
  let lines: Array<{ fields: LogFields; message: string }>;
  let log: RateLimitedLog;

  beforeEach(() => {
    jest.useFakeTimers();
    lines = [];
    log = new RateLimitedLog('failed logins', (fields, message) => lines.push({ fields, message }));
  });

  afterEach(() => {
    log.close();
    jest.useRealTimers();
  });

  it('writes a key at most LOG_LINES_PER_KEY times a window, then says how many more there were', () => {
    for (let i = 0; i < 50; i++) log.log('mallory', { username: 'mallory' }, 'failed login');

    expect(lines).toHaveLength(LOG_LINES_PER_KEY);
    jest.advanceTimersByTime(LOG_WINDOW_MS);

    expect(lines).toHaveLength(LOG_LINES_PER_KEY + 1);
    expect(lines.at(-1)).toEqual({
      fields: { suppressed: 50 - LOG_LINES_PER_KEY },
      message: `failed logins: suppressed ${50 - LOG_LINES_PER_KEY} more in 60 s`,
    });
  });

  it('bounds the lines of many keys together, and starts afresh in the next window', () => {
    for (let i = 0; i < 1000; i++) log.log(`user-${i}`, {}, 'failed login');
    expect(lines).toHaveLength(LOG_LINES_PER_WINDOW);

    jest.advanceTimersByTime(LOG_WINDOW_MS);
    expect(lines).toHaveLength(LOG_LINES_PER_WINDOW + 1);
    log.log('user-0', {}, 'failed login');

    expect(lines).toHaveLength(LOG_LINES_PER_WINDOW + 2);
    expect(lines.at(-1)?.message).toBe('failed login');
  });

  it('says nothing at the end of a quiet window, and keeps no timer after it', () => {
    log.log('a', {}, 'failed login');
    jest.advanceTimersByTime(LOG_WINDOW_MS);

    expect(lines).toHaveLength(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('tells what it held back when closed', () => {
    for (let i = 0; i < LOG_LINES_PER_KEY + 3; i++) log.log('a', {}, 'refused');
    log.close();

    expect(lines.at(-1)?.fields).toEqual({ suppressed: 3 });
    expect(jest.getTimerCount()).toBe(0);
  });
});
