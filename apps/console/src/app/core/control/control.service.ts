import { computed, inject, Injectable } from '@angular/core';
import type { ClientFrameName, ServerFrameMap } from '@iot/protocol';
import { filter, firstValueFrom, merge, type Observable } from 'rxjs';
import {
  ControlSocketService,
  type ControlSocketState,
  type ReplyMap,
  type RequestData,
} from './control-socket.service';
import { HttpControlTransport } from './http-control';

/**
 * Which way requests go:
 * - `idle`: not needed yet (or signed out / not allowed);
 * - `connecting`: the socket's first attempt is under way; requests wait for it;
 * - `socket`: over the control WebSocket;
 * - `http`: over REST, because the socket was refused, never opened in time, or was lost.
 */
export type ControlPath = 'idle' | 'connecting' | 'socket' | 'http';

function pathOf(state: ControlSocketState): ControlPath {
  switch (state) {
    case 'open':
      return 'socket';
    case 'reconnecting':
      return 'http';
    default:
      return state;
  }
}

/**
 * What the device page acts through: commands, cancels and desired-state
 * changes, with the same replies and `commandStatus` updates whichever way
 * they go. The WebSocket is preferred; while it cannot be opened or kept,
 * requests go over REST (their later transitions followed on the stream) and
 * the socket keeps being retried with backoff in the background, taking over
 * again as soon as it opens.
 */
@Injectable({ providedIn: 'root' })
export class ControlService {
  private readonly socket = inject(ControlSocketService);
  private readonly http = inject(HttpControlTransport);

  readonly path = computed<ControlPath>(() => pathOf(this.socket.state()));
  /** Every `command.status` of this tab's commands, from the socket or, for those sent over HTTP, the stream. */
  readonly commandStatus: Observable<ServerFrameMap['command.status']> = merge(
    this.socket.commandStatus,
    this.http.commandStatus,
  );

  /** Allows acting on devices (an operator signed in). Does not connect by itself. */
  enable(): void {
    this.socket.enable();
  }

  /** Stops the socket and refuses requests (signed out). */
  disable(): void {
    this.socket.disable();
  }

  /** Starts the socket if it is not open or being retried already. */
  connect(): void {
    this.socket.connect();
  }

  /** Sends a request the way that works now; resolves with its direct reply or rejects with a `ControlError`. */
  async send<K extends ClientFrameName>(event: K, data: RequestData<K>): Promise<ReplyMap[K]> {
    this.connect();
    let path = pathOf(this.socket.state());
    if (path === 'connecting') {
      // The first attempt ends (open, refused or timed out) within the socket's open timeout.
      path = pathOf(await firstValueFrom(this.socket.stateChanges.pipe(filter((state) => state !== 'connecting'))));
    }
    // Open, or idle because signed out (the socket then refuses with `forbidden`).
    return path === 'http' ? this.http.send(event, data) : this.socket.send(event, data);
  }
}
