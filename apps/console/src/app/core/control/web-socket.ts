import { inject, InjectionToken } from '@angular/core';
import { SOCKET_PATH } from '@iot/protocol';
import { apiUrl } from '../api-url';
import { WINDOW } from '../browser';

/** The part of the browser's WebSocket the console uses; specs fake it. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: Event) => unknown) | null;
  onclose: ((event: CloseEvent) => unknown) | null;
  onerror: ((event: Event) => unknown) | null;
  onmessage: ((event: MessageEvent) => unknown) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** WebSocket.readyState values. */
export const SocketState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;

export type WebSocketFactory = (url: string) => WebSocketLike;

/** The control socket's URL on this origin (`ws:` or `wss:` as the page). */
export const CONTROL_SOCKET_URL = new InjectionToken<string>('CONTROL_SOCKET_URL', {
  providedIn: 'root',
  factory: () => {
    const location = inject(WINDOW)?.location;
    const path = apiUrl(SOCKET_PATH as `/${string}`);
    if (!location) return path;
    return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
  },
});

/** Makes the control WebSocket; a token so specs can hand in a fake. */
export const WEB_SOCKET_FACTORY = new InjectionToken<WebSocketFactory>('WEB_SOCKET_FACTORY', {
  providedIn: 'root',
  factory: () => (url) => new WebSocket(url),
});
