import { deferDateTimeFormat, deferredDateTimeFormat, restoreDateTimeFormat } from './deferred-intl';

describe('deferredDateTimeFormat', () => {
  it('makes no formatter until one of its methods is called, then one, and answers as it would', () => {
    const made: Array<[string | string[] | undefined, Intl.DateTimeFormatOptions | undefined]> = [];
    const options: Intl.DateTimeFormatOptions = { year: 'numeric', month: '2-digit', day: '2-digit', timeZone: 'UTC' };
    const sut = deferredDateTimeFormat('en-GB', options, (locales, opts) => {
      made.push([locales, opts]);
      return new Intl.DateTimeFormat(locales, opts);
    });
    expect(made).toEqual([]);
    const real = new Intl.DateTimeFormat('en-GB', options);
    const date = Date.UTC(2026, 11, 7);
    expect(sut.format(date)).toBe(real.format(date));
    expect(sut.formatToParts(date)).toEqual(real.formatToParts(date));
    expect(sut.formatRange(date, date + 86_400_000)).toBe(real.formatRange(date, date + 86_400_000));
    expect(sut.resolvedOptions()).toEqual(real.resolvedOptions());
    expect(made).toEqual([['en-GB', options]]);
  });
});

describe('deferDateTimeFormat / restoreDateTimeFormat', () => {
  const original = Intl.DateTimeFormat;

  afterEach(() => restoreDateTimeFormat());

  it('swaps the constructor for one of deferred formatters, and puts the real one back', () => {
    deferDateTimeFormat();
    expect(Intl.DateTimeFormat).not.toBe(original);
    const deferred = new Intl.DateTimeFormat('en-US', { hour: 'numeric', timeZone: 'UTC' });
    expect(deferred).not.toBeInstanceOf(original);
    expect(deferred.format(Date.UTC(2026, 0, 1, 13))).toBe('1 PM');
    expect(Intl.DateTimeFormat.supportedLocalesOf(['en-US'])).toEqual(['en-US']);
    restoreDateTimeFormat();
    expect(Intl.DateTimeFormat).toBe(original);
    expect(new Intl.DateTimeFormat('en-US')).toBeInstanceOf(original);
  });
});
