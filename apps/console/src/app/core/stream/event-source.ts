import { InjectionToken } from '@angular/core';

/** The part of the browser's EventSource the console uses; specs fake it. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((event: Event) => unknown) | null;
  onerror: ((event: Event) => unknown) | null;
  addEventListener(type: string, listener: (event: MessageEvent<string>) => unknown): void;
  close(): void;
}

/** EventSource.readyState values (the constants are not on the interface). */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSED: 2 } as const;

export type EventSourceFactory = (url: string, init: EventSourceInit) => EventSourceLike;

/** Makes the stream's EventSource; a token so specs can hand in a fake. */
export const EVENT_SOURCE_FACTORY = new InjectionToken<EventSourceFactory>('EVENT_SOURCE_FACTORY', {
  providedIn: 'root',
  factory: () => (url, init) => new EventSource(url, init),
});
