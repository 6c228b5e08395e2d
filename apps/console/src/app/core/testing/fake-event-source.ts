import { type EventSourceFactory, type EventSourceLike, ReadyState } from '../stream/event-source';

/** An EventSource a spec drives by hand: open(), emit(), fail(). */
export class FakeEventSource implements EventSourceLike {
  readyState: number = ReadyState.CONNECTING;
  onopen: ((event: Event) => unknown) | null = null;
  onerror: ((event: Event) => unknown) | null = null;
  private readonly listeners = new Map<string, Array<(event: MessageEvent<string>) => unknown>>();

  constructor(
    readonly url: string,
    readonly init: EventSourceInit,
  ) {}

  get closed(): boolean {
    return this.readyState === ReadyState.CLOSED;
  }

  addEventListener(type: string, listener: (event: MessageEvent<string>) => unknown): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.readyState = ReadyState.CLOSED;
  }

  /** The server answered 200 text/event-stream. */
  open(): void {
    this.readyState = ReadyState.OPEN;
    this.onopen?.(new Event('open'));
  }

  /** One event with JSON data (or raw text, to test bad data). */
  emit(type: string, data: unknown, id = ''): void {
    const event = new MessageEvent<string>(type, {
      data: typeof data === 'string' ? data : JSON.stringify(data),
      lastEventId: id,
    });
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }

  /** The connection dropped and the browser retries by itself (readyState CONNECTING). */
  drop(): void {
    this.readyState = ReadyState.CONNECTING;
    this.onerror?.(new Event('error'));
  }

  /** The browser gave up (HTTP 401 or 5xx, wrong content type): readyState CLOSED. */
  fail(): void {
    this.readyState = ReadyState.CLOSED;
    this.onerror?.(new Event('error'));
  }
}

/** A factory for the EVENT_SOURCE_FACTORY token that records every source it makes. */
export function fakeEventSources(): { factory: EventSourceFactory; created: FakeEventSource[]; latest: () => FakeEventSource } {
  const created: FakeEventSource[] = [];
  const factory: EventSourceFactory = (url, init) => {
    const source = new FakeEventSource(url, init);
    created.push(source);
    return source;
  };
  const latest = () => {
    const source = created[created.length - 1];
    if (!source) throw new Error('no EventSource was created');
    return source;
  };
  return { factory, created, latest };
}
