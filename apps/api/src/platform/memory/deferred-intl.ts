/**
 * Nest's logger modules each build an `Intl.DateTimeFormat` when they are
 * imported, and the first one maps about 8 MiB of ICU's locale and time
 * zone data into the process and 2 MiB of heap beside it (measured on
 * Node.js 20), for a formatter the api never uses: it logs through pino.
 * While the app's modules load, a formatter is made on its first use
 * instead; `restoreDateTimeFormat` puts the real constructor back.
 */
const RealDateTimeFormat = Intl.DateTimeFormat;

type Formatter = Pick<
  Intl.DateTimeFormat,
  'format' | 'formatToParts' | 'formatRange' | 'formatRangeToParts' | 'resolvedOptions'
>;

/** A formatter with the methods of `Intl.DateTimeFormat`, which makes the real one when first called. */
export function deferredDateTimeFormat(
  locales?: string | string[],
  options?: Intl.DateTimeFormatOptions,
  make: (locales?: string | string[], options?: Intl.DateTimeFormatOptions) => Intl.DateTimeFormat = (l, o) =>
    new RealDateTimeFormat(l, o),
): Formatter {
  let real: Intl.DateTimeFormat | undefined;
  const formatter = (): Intl.DateTimeFormat => (real ??= make(locales, options));
  return {
    format: (date) => formatter().format(date),
    formatToParts: (date) => formatter().formatToParts(date),
    formatRange: (start, end) => formatter().formatRange(start, end),
    formatRangeToParts: (start, end) => formatter().formatRangeToParts(start, end),
    resolvedOptions: () => formatter().resolvedOptions(),
  };
}

/** From now until `restoreDateTimeFormat`, `new Intl.DateTimeFormat(…)` makes a deferred formatter. */
export function deferDateTimeFormat(): void {
  const deferred = function DateTimeFormat(locales?: string | string[], options?: Intl.DateTimeFormatOptions) {
    return deferredDateTimeFormat(locales, options);
  };
  Object.assign(deferred, { supportedLocalesOf: RealDateTimeFormat.supportedLocalesOf });
  Intl.DateTimeFormat = deferred as unknown as typeof Intl.DateTimeFormat;
}

export function restoreDateTimeFormat(): void {
  Intl.DateTimeFormat = RealDateTimeFormat;
}
