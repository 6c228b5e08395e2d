import { DestroyRef, inject, Injectable, InjectionToken, signal } from '@angular/core';

/** How often relative times ("12 s ago") move on. */
export const CLOCK_TICK_MS = new InjectionToken<number>('CLOCK_TICK_MS', {
  providedIn: 'root',
  factory: () => 1_000,
});

/** The current time as a signal, so relative times update without each row keeping a timer. */
@Injectable({ providedIn: 'root' })
export class Clock {
  private readonly current = signal(Date.now());
  /** Epoch ms, updated every tick. */
  readonly now = this.current.asReadonly();

  constructor() {
    const timer = setInterval(() => this.current.set(Date.now()), inject(CLOCK_TICK_MS));
    inject(DestroyRef).onDestroy(() => clearInterval(timer));
  }
}
