import { SocketState, type WebSocketFactory, type WebSocketLike } from '../control/web-socket';

/** A WebSocket a spec drives by hand: open(), receive(), close(); `sent` holds parsed outgoing frames. */
export class FakeWebSocket implements WebSocketLike {
  readyState: number = SocketState.CONNECTING;
  onopen: ((event: Event) => unknown) | null = null;
  onclose: ((event: CloseEvent) => unknown) | null = null;
  onerror: ((event: Event) => unknown) | null = null;
  onmessage: ((event: MessageEvent) => unknown) | null = null;
  readonly sent: Array<{ event: string; data: Record<string, unknown> }> = [];
  closedByClient = false;

  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.readyState !== SocketState.OPEN) throw new Error('InvalidStateError: the socket is not open');
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.closedByClient = true;
    this.readyState = SocketState.CLOSED;
  }

  /** The upgrade succeeded. */
  open(): void {
    this.readyState = SocketState.OPEN;
    this.onopen?.(new Event('open'));
  }

  /** A frame from the server (an object is sent as JSON). */
  receive(event: string, data: unknown): void {
    this.onmessage?.(new MessageEvent('message', { data: JSON.stringify({ event, data }) }));
  }

  receiveRaw(data: string): void {
    this.onmessage?.(new MessageEvent('message', { data }));
  }

  /** The server or the network closed the socket. */
  drop(code = 1006): void {
    this.readyState = SocketState.CLOSED;
    this.onerror?.(new Event('error'));
    this.onclose?.({ code, reason: '', wasClean: false } as CloseEvent);
  }

  /** The requestId of the last frame sent. */
  lastRequestId(): string {
    const frame = this.sent[this.sent.length - 1];
    if (!frame) throw new Error('nothing was sent');
    return frame.data['requestId'] as string;
  }
}

export function fakeWebSockets(): { factory: WebSocketFactory; created: FakeWebSocket[]; latest: () => FakeWebSocket } {
  const created: FakeWebSocket[] = [];
  const factory: WebSocketFactory = (url) => {
    const socket = new FakeWebSocket(url);
    created.push(socket);
    return socket;
  };
  const latest = () => {
    const socket = created[created.length - 1];
    if (!socket) throw new Error('no WebSocket was created');
    return socket;
  };
  return { factory, created, latest };
}
