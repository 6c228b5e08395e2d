/** Window over which warn lines of one kind are counted. */
export const LOG_WINDOW_MS = 60_000;
/** Lines one key (a username and address, a device id and address) may log in a window. */
export const LOG_LINES_PER_KEY = 5;
/** Lines one kind of event (failed logins, refused CONNECTs) may log in a window, all keys together. */
export const LOG_LINES_PER_WINDOW = 20;

export type LogFields = Record<string, string | number | undefined>;

/** Where the lines go: a logger's warn, as `(fields, message)`. */
export type LogLine = (fields: LogFields, message: string) => void;

/**
 * Logs one kind of event a flood could repeat (failed logins, refused
 * device CONNECTs) at most LOG_LINES_PER_KEY times per key and
 * LOG_LINES_PER_WINDOW times in all per window; at the end of a window
 * with lines held back, one line says how many. Keys are remembered only
 * for lines written, so memory is bounded by LOG_LINES_PER_WINDOW.
 */
export class RateLimitedLog {
  private readonly perKey = new Map<string, number>();
  private written = 0;
  private suppressed = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly kind: string,
    private readonly line: LogLine,
    private readonly limits = { perKey: LOG_LINES_PER_KEY, perWindow: LOG_LINES_PER_WINDOW, windowMs: LOG_WINDOW_MS },
  ) {}

  /** Logs `message` unless its key or the kind has had its lines this window. */
  log(key: string, fields: LogFields, message: string): void {
    this.timer ??= setTimeout(() => this.endWindow(), this.limits.windowMs).unref();
    const lines = this.perKey.get(key) ?? 0;
    if (lines >= this.limits.perKey || this.written >= this.limits.perWindow) {
      this.suppressed++;
      return;
    }
    this.perKey.set(key, lines + 1);
    this.written++;
    this.line(fields, message);
  }

  /** Says what was held back and stops the window (at shutdown). */
  close(): void {
    clearTimeout(this.timer);
    this.endWindow();
  }

  private endWindow(): void {
    this.timer = undefined;
    if (this.suppressed > 0) {
      const seconds = Math.round(this.limits.windowMs / 1000);
      this.line({ suppressed: this.suppressed }, `${this.kind}: suppressed ${this.suppressed} more in ${seconds} s`);
    }
    this.perKey.clear();
    this.written = 0;
    this.suppressed = 0;
  }
}
