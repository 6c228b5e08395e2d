import { computed, DestroyRef, inject, Injectable, InjectionToken, signal } from '@angular/core';
import { STREAM_PATH, type StreamEventMap, type StreamEventName, streamEventSchemas } from '@iot/protocol';
import { filter, map, type Observable, Subject } from 'rxjs';
import { apiUrl } from '../api-url';
import { WINDOW } from '../browser';
import { backoffDelay, type BackoffOptions, DEFAULT_BACKOFF } from './backoff';
import { EVENT_SOURCE_FACTORY, type EventSourceLike, ReadyState } from './event-source';

/**
 * - `connecting`: the first connection since start() is being made;
 * - `live`: open: what is shown is current;
 * - `reconnecting`: the connection was lost (or never made) and is being retried;
 * - `offline`: not connected and not trying (signed out), or the browser has no network.
 */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

/** One event from the stream, parsed and validated: `event` tells the type of `data`. */
export type StreamMessage = {
  [K in StreamEventName]: { event: K; id: string; data: StreamEventMap[K] };
}[StreamEventName];

export const STREAM_URL = apiUrl(STREAM_PATH);
const STREAM_EVENT_NAMES = Object.keys(streamEventSchemas) as StreamEventName[];

/** Retry timing after the browser gives up on the stream. */
export const STREAM_BACKOFF = new InjectionToken<BackoffOptions>('STREAM_BACKOFF', {
  providedIn: 'root',
  factory: () => DEFAULT_BACKOFF,
});

/** The `reason` of the `reset` the console makes itself when it may have missed events. */
export const RESYNC_REASON = 'reconnected without a resume point';

/**
 * The one Server-Sent Events stream of this tab (browsers allow about six
 * connections per origin, so every view shares it).
 *
 * The browser's EventSource reconnects by itself after a dropped connection,
 * sending Last-Event-ID. It gives up for good (readyState CLOSED) on an HTTP
 * error such as 401 or 5xx; then this service makes a new one after an
 * exponential backoff with jitter, passing `?lastEventId=` so the server
 * resumes after the last event seen. When the server cannot resume it sends
 * `reset`, and views refetch over REST.
 */
@Injectable({ providedIn: 'root' })
export class StreamService {
  private readonly createEventSource = inject(EVENT_SOURCE_FACTORY);
  private readonly backoff = inject(STREAM_BACKOFF);
  private readonly window = inject(WINDOW);

  private readonly phase = signal<'stopped' | 'connecting' | 'live' | 'reconnecting'>('stopped');
  private readonly networkUp = signal(this.window?.navigator.onLine ?? true);
  private readonly messages$ = new Subject<StreamMessage>();

  private source: EventSourceLike | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private lastEventId = '';
  /** Whether the connection dropped since it was last open: events may have been missed. */
  private interrupted = false;

  /** The connection's state, for the toolbar and for dimming values that may be stale. */
  readonly state = computed<ConnectionState>(() => {
    const phase = this.phase();
    return phase === 'stopped' || !this.networkUp() ? 'offline' : phase;
  });
  readonly live = computed(() => this.state() === 'live');
  /** Every event, validated against the protocol's schemas. */
  readonly messages: Observable<StreamMessage> = this.messages$.asObservable();

  constructor() {
    const onOnline = () => this.onNetworkChange(true);
    const onOffline = () => this.onNetworkChange(false);
    this.window?.addEventListener('online', onOnline);
    this.window?.addEventListener('offline', onOffline);
    inject(DestroyRef).onDestroy(() => {
      this.window?.removeEventListener('online', onOnline);
      this.window?.removeEventListener('offline', onOffline);
      this.stop();
      this.messages$.complete();
    });
  }

  /** The data of every event of one kind. */
  on<K extends StreamEventName>(event: K): Observable<StreamEventMap[K]> {
    return this.messages.pipe(
      filter((message) => message.event === event),
      map((message) => message.data as StreamEventMap[K]),
    );
  }

  /** Opens the stream; does nothing if it is already open or opening. */
  start(): void {
    if (this.phase() !== 'stopped') return;
    this.phase.set('connecting');
    this.open();
  }

  /** Closes the stream and forgets the resume point, so the next user starts afresh. */
  stop(): void {
    this.clearRetry();
    this.source?.close();
    this.source = null;
    this.attempt = 0;
    this.lastEventId = '';
    this.interrupted = false;
    this.phase.set('stopped');
  }

  private open(): void {
    const url = this.lastEventId ? `${STREAM_URL}?lastEventId=${encodeURIComponent(this.lastEventId)}` : STREAM_URL;
    const source = this.createEventSource(url, { withCredentials: true });
    this.source = source;
    source.onopen = () => this.onOpen(source);
    source.onerror = () => this.onError(source);
    for (const name of STREAM_EVENT_NAMES) {
      source.addEventListener(name, (event) => this.onEvent(source, name, event));
    }
  }

  private onOpen(source: EventSourceLike): void {
    if (source !== this.source) return;
    this.attempt = 0;
    this.phase.set('live');
    if (this.interrupted && !this.lastEventId) {
      // Nothing to resume from, so the server cannot replay what happened while
      // we were away: tell views to refetch, as the server's own `reset` does.
      this.emit('reset', '', { reason: RESYNC_REASON });
    }
    this.interrupted = false;
  }

  private onError(source: EventSourceLike): void {
    if (source !== this.source) return;
    this.interrupted = true;
    this.phase.set('reconnecting');
    if (source.readyState !== ReadyState.CLOSED) return; // the browser is retrying by itself
    source.close();
    this.source = null;
    this.scheduleRetry();
  }

  private onEvent<K extends StreamEventName>(source: EventSourceLike, name: K, event: MessageEvent<string>): void {
    if (source !== this.source) return;
    // Resume after this event even if its data is bad: it was delivered.
    if (event.lastEventId) this.lastEventId = event.lastEventId;
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch {
      console.warn(`Stream: ignored a "${name}" event whose data is not JSON`);
      return;
    }
    const parsed = streamEventSchemas[name].safeParse(json);
    if (!parsed.success) {
      console.warn(`Stream: ignored a "${name}" event that does not match the protocol`, parsed.error.issues);
      return;
    }
    this.emit(name, event.lastEventId, parsed.data as StreamEventMap[K]);
  }

  private emit<K extends StreamEventName>(event: K, id: string, data: StreamEventMap[K]): void {
    this.messages$.next({ event, id, data } as StreamMessage);
  }

  private scheduleRetry(): void {
    this.clearRetry();
    const delay = backoffDelay(this.attempt, this.backoff);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, delay);
  }

  private onNetworkChange(up: boolean): void {
    this.networkUp.set(up);
    if (up && this.retryTimer !== undefined) {
      // Back online: no point waiting out the backoff.
      this.clearRetry();
      this.attempt = 0;
      this.open();
    }
  }

  private clearRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
