import type { Writable } from 'node:stream';

/** When corked streams are released: at the end of the turn's ticks and microtasks, or at the next check phase. */
export type Release = 'tick' | 'immediate';

/**
 * Holds the writes to a stream until the current turn is done, so that what
 * is written to one connection in one turn leaves in one `writev` instead of
 * a system call each (`ws` corks one frame, mqtt-packet one packet). With many
 * commands in flight, one group commit answers several on the same socket.
 * Corking only delays the write to the end of the turn; `end()` flushes it.
 */
export class TurnCorker {
  private corked = new Set<Writable>();

  constructor(private readonly release: Release = 'tick') {}

  /** Corks `stream` until the end of this turn (once, however often it is called). */
  cork(stream: Writable): void {
    if (this.corked.has(stream)) return;
    if (this.corked.size === 0) {
      if (this.release === 'tick') process.nextTick(() => this.uncorkAll());
      else setImmediate(() => this.uncorkAll());
    }
    stream.cork();
    this.corked.add(stream);
  }

  private uncorkAll(): void {
    const streams = this.corked;
    this.corked = new Set();
    for (const stream of streams) stream.uncork();
  }
}
