import { computed, DestroyRef, inject, Injectable, InjectionToken, signal } from '@angular/core';
import {
  type ClientFrameMap,
  type ClientFrameName,
  type ErrorCode,
  frameEnvelopeSchema,
  isServerFrameName,
  type ServerFrameMap,
  type ServerFrameName,
  serverFrameSchemas,
} from '@iot/protocol';
import { distinctUntilChanged, type Observable, Subject } from 'rxjs';
import { backoffDelay, type BackoffOptions, DEFAULT_BACKOFF } from '../stream/backoff';
import { CONTROL_SOCKET_URL, SocketState, WEB_SOCKET_FACTORY, type WebSocketLike } from './web-socket';

/**
 * - `idle`: not needed yet (or signed out / not allowed);
 * - `connecting`: the first connection is being made;
 * - `open`: requests go out at once;
 * - `reconnecting`: the connection was lost and is retried after a backoff.
 */
export type ControlSocketState = 'idle' | 'connecting' | 'open' | 'reconnecting';

/** The direct reply to each request. */
export interface ReplyMap {
  'command.send': ServerFrameMap['command.status'];
  'command.cancel': ServerFrameMap['command.status'];
  'state.desired.set': ServerFrameMap['state.result'];
}

export type RequestData<K extends ClientFrameName> = Omit<ClientFrameMap[K], 'requestId'>;

/** A request the server refused (an `error` frame), or one that got no answer. */
export class ControlError extends Error {
  constructor(
    readonly code: ErrorCode | 'disconnected' | 'timeout',
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

export const CONTROL_BACKOFF = new InjectionToken<BackoffOptions>('CONTROL_BACKOFF', {
  providedIn: 'root',
  factory: () => DEFAULT_BACKOFF,
});

/** How long a request waits for its direct reply (including waiting for the socket to open). */
export const CONTROL_REPLY_TIMEOUT_MS = new InjectionToken<number>('CONTROL_REPLY_TIMEOUT_MS', {
  providedIn: 'root',
  factory: () => 15_000,
});

/**
 * How long a socket may stay connecting before it counts as failed: a proxy
 * that swallows the upgrade leaves it connecting for minutes otherwise.
 */
export const CONTROL_OPEN_TIMEOUT_MS = new InjectionToken<number>('CONTROL_OPEN_TIMEOUT_MS', {
  providedIn: 'root',
  factory: () => 5_000,
});

interface PendingRequest {
  event: ClientFrameName;
  frame: string;
  sent: boolean;
  resolve: (value: never) => void;
  reject: (error: ControlError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The tab's one control WebSocket (`/api/v1/ws`), for acting on devices.
 *
 * Enabled while an operator or admin is signed in, it connects lazily, on the
 * first request or `connect()`, and then stays connected, reconnecting after
 * an exponential backoff with jitter. `send()` answers with the request's
 * direct reply (matched by `requestId`) or rejects with a {@link ControlError}.
 * Every `command.status` frame (the first reply and later transitions) is also
 * published on `commandStatus`.
 *
 * A request in flight when the socket drops is rejected, not resent: the
 * server deduplicates a repeated `requestId` only on the same socket.
 */
@Injectable({ providedIn: 'root' })
export class ControlSocketService {
  private readonly createSocket = inject(WEB_SOCKET_FACTORY);
  private readonly url = inject(CONTROL_SOCKET_URL);
  private readonly backoff = inject(CONTROL_BACKOFF);
  private readonly replyTimeoutMs = inject(CONTROL_REPLY_TIMEOUT_MS);
  private readonly openTimeoutMs = inject(CONTROL_OPEN_TIMEOUT_MS);

  private readonly stateSignal = signal<ControlSocketState>('idle');
  private readonly commandStatus$ = new Subject<ServerFrameMap['command.status']>();
  private readonly pending = new Map<string, PendingRequest>();
  private enabled = false;
  private socket: WebSocketLike | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private openTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private readonly stateChanges$ = new Subject<ControlSocketState>();

  readonly state = this.stateSignal.asReadonly();
  readonly open = computed(() => this.stateSignal() === 'open');
  /** Every `command.status` frame, as it arrives. */
  readonly commandStatus: Observable<ServerFrameMap['command.status']> = this.commandStatus$.asObservable();
  /** Every change of `state`, as it happens (signals alone would tell only at the next change detection). */
  readonly stateChanges: Observable<ControlSocketState> = this.stateChanges$.pipe(distinctUntilChanged());

  constructor() {
    inject(DestroyRef).onDestroy(() => {
      this.disable();
      this.commandStatus$.complete();
      this.stateChanges$.complete();
    });
  }

  /** Allows connecting (an operator signed in). Does not connect by itself. */
  enable(): void {
    this.enabled = true;
  }

  /** Closes the socket, rejects what is in flight and stops reconnecting (signed out). */
  disable(): void {
    this.enabled = false;
    this.clearRetry();
    this.clearOpenTimer();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      this.detach(socket);
      socket.close(1000, 'signed out');
    }
    this.attempt = 0;
    this.rejectAll(new ControlError('disconnected', 'Signed out.'));
    this.setState('idle');
  }

  /** Connects if enabled and not connected or connecting already. */
  connect(): void {
    if (!this.enabled || this.socket || this.retryTimer !== undefined) return;
    this.setState(this.stateSignal() === 'idle' ? 'connecting' : 'reconnecting');
    this.openSocket();
  }

  /** Sends a request and resolves with its direct reply; rejects on an `error` frame, a drop, or no reply in time. */
  send<K extends ClientFrameName>(event: K, data: RequestData<K>): Promise<ReplyMap[K]> {
    if (!this.enabled)
      return Promise.reject(new ControlError('forbidden', 'Only operators and admins can act on devices.'));
    const requestId = crypto.randomUUID();
    const frame = JSON.stringify({ event, data: { ...data, requestId } });
    return new Promise<ReplyMap[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new ControlError('timeout', 'The platform did not answer in time.'));
      }, this.replyTimeoutMs);
      const request: PendingRequest = {
        event,
        frame,
        sent: false,
        resolve: resolve as (value: never) => void,
        reject,
        timer,
      };
      this.pending.set(requestId, request);
      this.connect();
      if (this.socket?.readyState === SocketState.OPEN) this.transmit(request);
    });
  }

  private openSocket(): void {
    const socket = this.createSocket(this.url);
    this.socket = socket;
    this.clearOpenTimer();
    this.openTimer = setTimeout(() => {
      this.openTimer = undefined;
      if (socket !== this.socket || socket.readyState === SocketState.OPEN) return;
      this.detach(socket);
      socket.close();
      this.onClose();
    }, this.openTimeoutMs);
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.clearOpenTimer();
      this.attempt = 0;
      this.setState('open');
      for (const request of this.pending.values()) if (!request.sent) this.transmit(request);
    };
    socket.onmessage = (message) => {
      if (socket === this.socket) this.onFrame(message.data);
    };
    socket.onerror = () => undefined; // a close always follows
    socket.onclose = () => {
      if (socket === this.socket) this.onClose();
    };
  }

  private transmit(request: PendingRequest): void {
    request.sent = true;
    this.socket?.send(request.frame);
  }

  private onClose(): void {
    this.clearOpenTimer();
    if (this.socket) this.detach(this.socket);
    this.socket = null;
    // Sent requests may never be answered now; unsent ones wait for the next socket.
    for (const [requestId, request] of this.pending) {
      if (!request.sent) continue;
      this.settle(requestId);
      request.reject(
        new ControlError('disconnected', 'The connection to the platform was lost; check the history before retrying.'),
      );
    }
    if (!this.enabled) {
      this.setState('idle');
      return;
    }
    this.setState('reconnecting');
    const delay = backoffDelay(this.attempt, this.backoff);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.enabled) this.openSocket();
    }, delay);
  }

  private onFrame(raw: unknown): void {
    if (typeof raw !== 'string') return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      console.warn('Control socket: ignored a frame that is not JSON');
      return;
    }
    const envelope = frameEnvelopeSchema.safeParse(json);
    if (!envelope.success || !isServerFrameName(envelope.data.event)) return;
    const event = envelope.data.event;
    const parsed = serverFrameSchemas[event].safeParse(envelope.data.data);
    if (!parsed.success) {
      console.warn(`Control socket: ignored a "${event}" frame that does not match the protocol`);
      return;
    }
    const data = parsed.data as ServerFrameMap[ServerFrameName];
    const request = data.requestId ? this.pending.get(data.requestId) : undefined;

    if (event === 'error') {
      const error = data as ServerFrameMap['error'];
      if (request && error.requestId) {
        this.settle(error.requestId);
        request.reject(new ControlError(error.code, error.message));
      } else {
        console.warn(`Control socket: ${error.code}: ${error.message}`);
      }
      return;
    }
    if (event === 'command.status') this.commandStatus$.next(data as ServerFrameMap['command.status']);
    if (request && data.requestId && expectsReply(request.event, event)) {
      this.settle(data.requestId);
      request.resolve(data as never);
    }
  }

  private settle(requestId: string): void {
    const request = this.pending.get(requestId);
    if (!request) return;
    clearTimeout(request.timer);
    this.pending.delete(requestId);
  }

  private rejectAll(error: ControlError): void {
    for (const [requestId, request] of this.pending) {
      this.settle(requestId);
      request.reject(error);
    }
  }

  private detach(socket: WebSocketLike): void {
    socket.onopen = socket.onclose = socket.onerror = socket.onmessage = null;
  }

  private setState(state: ControlSocketState): void {
    this.stateSignal.set(state);
    this.stateChanges$.next(state);
  }

  private clearOpenTimer(): void {
    clearTimeout(this.openTimer);
    this.openTimer = undefined;
  }

  private clearRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}

function expectsReply(request: ClientFrameName, reply: ServerFrameName): boolean {
  return request === 'state.desired.set' ? reply === 'state.result' : reply === 'command.status';
}
