import WebSocket from 'ws';
import type { Frame as ProtocolFrame } from '@iot/protocol';
import type { TestApp } from './harness';

/** A frame as received, before its data is checked. */
export type Frame = ProtocolFrame<string, Record<string, unknown>>;

/** A `ws` client that records every frame and can wait for some. */
export class SocketClient {
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  closeCode: number | undefined;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Opens a socket, or rejects with the upgrade's HTTP status as `status`. */
  static open(app: Pick<TestApp, 'port'>, token?: string, headers: Record<string, string> = {}): Promise<SocketClient> {
    const socket = new WebSocket(`ws://127.0.0.1:${app.port}/api/v1/ws`, {
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...headers },
    });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new SocketClient(socket)));
      socket.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode }));
        res.resume();
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  send(event: string, data: unknown): void {
    this.socket.send(JSON.stringify({ event, data }));
  }

  /** The replies that carry this requestId. */
  replies(requestId: string): Frame[] {
    return this.frames.filter((f) => f.data['requestId'] === requestId);
  }

  /** The command.status statuses of this requestId, in order. */
  statuses(requestId: string): string[] {
    return this.frames
      .filter((f) => f.event === 'command.status' && f.data['requestId'] === requestId)
      .map((f) => f.data['status'] as string);
  }

  /** Resolves once `predicate` holds for the frames so far; rejects if the socket closes or after `timeoutMs`. */
  async waitFor(predicate: (frames: Frame[]) => boolean, timeoutMs = 10_000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.frames)) {
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; last frames: ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.frames;
  }

  /** Resolves with the close code once the socket is closed. */
  closed(): Promise<number> {
    return new Promise((resolve) => {
      if (this.closeCode !== undefined) return resolve(this.closeCode);
      this.socket.once('close', (code) => resolve(code));
    });
  }

  /** Closes and resolves once the connection is gone. */
  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

/** The status an upgrade of `token` was refused with, or `open` (then the socket is closed again). */
export async function upgradeStatus(app: Pick<TestApp, 'port'>, token: string): Promise<number | 'open'> {
  try {
    await (await SocketClient.open(app, token)).close();
    return 'open';
  } catch (error) {
    return (error as { status?: number }).status ?? -1;
  }
}
