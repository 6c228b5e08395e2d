import WebSocket from 'ws';
import { StreamRecorder, type TestApp, api, connectDevice, createDevice, createUser, startApp } from './harness';

/** Issue #13, items 1 and 11: the WebSocket against hostile frames, floods and socket hoarding. */

interface Frame {
  event: string;
  data: Record<string, unknown>;
}

/** A `ws` client that records every frame and can wait for some. */
class SocketClient {
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
  static open(app: TestApp, token: string): Promise<SocketClient> {
    const socket = new WebSocket(`ws://127.0.0.1:${app.port}/api/v1/ws`, {
      headers: { authorization: `Bearer ${token}` },
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

  async waitFor(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; last frames: ${JSON.stringify(this.frames.slice(-3))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
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

/** The status an upgrade was refused with, or `open` (then the socket is closed again). */
async function upgradeStatus(app: TestApp, token: string): Promise<number | 'open'> {
  try {
    await (await SocketClient.open(app, token)).close();
    return 'open';
  } catch (error) {
    return (error as { status?: number }).status ?? -1;
  }
}

let counter = 0;
const rid = (prefix = 'r') => `${prefix}-${++counter}`;

/** Every event name an object inherits, which a lookup in a plain object would find. */
const INHERITED = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  '__defineGetter__',
];

describe('WebSocket hardening (#13)', () => {
  describe('frames naming inherited properties (item 1)', () => {
    let app: TestApp;
    let operator: string;
    let viewer: string;

    beforeAll(async () => {
      app = await startApp();
      operator = await createUser(app, 'ws-operator', 'operator');
      viewer = await createUser(app, 'ws-viewer', 'viewer');
    });

    afterAll(() => app.stop());

    it.each([
      ['a viewer', () => viewer],
      ['an operator', () => operator],
    ])(
      'answers %s with bad_request and its requestId, and HTTP, SSE, MQTT and the socket keep working',
      async (_who, token) => {
        const deviceId = rid('dev');
        const { credentials } = await createDevice(app, deviceId);
        const ws = await SocketClient.open(app, token());
        const sent = INHERITED.map((event) => ({ event, requestId: rid() }));
        for (const { event, requestId } of sent) ws.send(event, { requestId });
        // One frame whose data is not even an object, under an inherited name.
        ws.socket.send(JSON.stringify({ event: 'constructor', data: 'x' }));
        await ws.waitFor(
          () => sent.every(({ requestId }) => ws.replies(requestId).length > 0) && ws.frames.length >= sent.length + 1,
        );
        for (const { event, requestId } of sent) {
          expect(ws.replies(requestId)).toEqual([
            {
              event: 'error',
              data: { requestId, code: 'bad_request', message: expect.stringContaining(JSON.stringify(event)) },
            },
          ]);
        }
        expect(ws.frames[sent.length]).toEqual({
          event: 'error',
          data: { code: 'bad_request', message: expect.any(String) },
        });

        // Still alive: HTTP, then MQTT ingest seen over SSE, then the same socket.
        expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
        expect((await api(app, token(), 'GET', `/devices/${deviceId}`)).status).toBe(200);
        const stream = new StreamRecorder(app, token(), `?devices=${deviceId}&events=telemetry`);
        await stream.opened();
        const device = await connectDevice(app, credentials);
        await device.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify({ temperature: 21.5 }), { qos: 1 });
        await stream.waitFor((events) => events.some((e) => e.type === 'telemetry'));
        const requestId = rid();
        ws.send('state.desired.set', { requestId, deviceId, patch: { on: true } });
        await ws.waitFor(() => ws.replies(requestId).length > 0);
        expect(ws.replies(requestId)[0].event).toBe(token() === operator ? 'state.result' : 'error');
        stream.close();
        await device.endAsync();
        await ws.close();
      },
    );
  });

  describe('rate limit per user and sockets per user (item 11)', () => {
    let app: TestApp;
    let operator: string;
    let other: string;
    let deviceId: string;

    beforeAll(async () => {
      app = await startApp({ WS_MAX_SOCKETS_PER_USER: '3' });
      operator = await createUser(app, 'ws-flooder', 'operator');
      other = await createUser(app, 'ws-other', 'operator');
      deviceId = (await createDevice(app, 'ws-flood-target')).device.id;
    });

    afterAll(() => app.stop());

    /** Sends `count` state.desired.set frames at once, spread over the sockets; resolves with each one's replies. */
    async function burst(
      sockets: SocketClient[],
      count: number,
    ): Promise<Array<{ requestId: string; replies: Frame[] }>> {
      const requests = Array.from({ length: count }, (_, i) => ({
        requestId: rid('burst'),
        socket: sockets[i % sockets.length],
      }));
      for (const { requestId, socket } of requests)
        socket.send('state.desired.set', { requestId, deviceId, patch: { n: requestId } });
      for (const socket of sockets) {
        await socket.waitFor(() =>
          requests.every((r) => r.socket !== socket || r.socket.replies(r.requestId).length > 0),
        );
      }
      // A last round trip on each socket, so a second reply to any of them would have arrived by now.
      for (const socket of sockets) {
        const probe = rid('probe');
        socket.send('state.desired.set', { requestId: probe, deviceId, patch: {} });
        await socket.waitFor(() => socket.replies(probe).length > 0);
      }
      return requests.map(({ requestId, socket }) => ({ requestId, replies: socket.replies(requestId) }));
    }

    it('answers each of a burst of 120 frames exactly once with its requestId, refusing those past the burst of 40', async () => {
      const ws = await SocketClient.open(app, operator);
      const results = await burst([ws], 120);
      for (const { requestId, replies } of results) {
        expect(replies).toHaveLength(1);
        expect(replies[0].data['requestId']).toBe(requestId);
        if (replies[0].event === 'error') expect(replies[0].data['code']).toBe('rate_limited');
        else expect(replies[0].event).toBe('state.result');
      }
      const accepted = results.filter((r) => r.replies[0].event === 'state.result');
      // The first 40 (the burst), and at most a few more refilled at 20 a second while the burst arrives.
      expect(results.slice(0, 40).every((r) => r.replies[0].event === 'state.result')).toBe(true);
      expect(accepted.length).toBeLessThanOrEqual(50);
      const refused = results.find((r) => r.replies[0].event === 'error')!;
      expect(refused.replies[0].data['message']).toMatch(/20 requests a second/);
      await ws.close();
    });

    it('shares one budget between the sockets of a user, and a new socket does not refill it', async () => {
      const first = await SocketClient.open(app, other);
      const second = await SocketClient.open(app, other);
      const results = await burst([first, second], 100);
      const accepted = results.filter((r) => r.replies[0].event === 'state.result').length;
      expect(results.every((r) => r.replies.length === 1)).toBe(true);
      expect(accepted).toBeGreaterThanOrEqual(40);
      expect(accepted).toBeLessThanOrEqual(50);
      // Closing both and opening a third gives no fresh burst.
      await first.close();
      await second.close();
      const third = await SocketClient.open(app, other);
      const again = await burst([third], 40);
      expect(again.filter((r) => r.replies[0].event === 'state.result').length).toBeLessThanOrEqual(30);
      await third.close();
    });

    it('closes with 1013 a socket whose client sends without reading its replies', async () => {
      const token = await createUser(app, 'ws-deaf', 'operator');
      const ws = await SocketClient.open(app, token);
      // The client stops reading: replies queue in the kernel, then in the server's socket.
      (ws.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
      const padding = 'x'.repeat(120);
      let closedByServer = false;
      for (let chunk = 0; chunk < 200 && !closedByServer; chunk++) {
        for (let i = 0; i < 1000; i++) ws.send('y'.repeat(60), { requestId: `${padding}${chunk}-${i}` });
        const metrics = await (await fetch(`${app.url}/metrics`)).text();
        closedByServer = /iot_ws_refused_total\{reason="unread_replies"\} 1\b/.test(metrics);
      }
      expect(closedByServer).toBe(true);
      (ws.socket as unknown as { _socket: { resume(): void } })._socket.resume();
      await new Promise<void>((resolve) =>
        ws.closeCode !== undefined ? resolve() : ws.socket.once('close', () => resolve()),
      );
      expect(ws.closeCode).toBe(1013);
      // Everything queued before the close arrived, each reply carrying its requestId.
      expect(ws.frames.length).toBeGreaterThan(1000);
      expect(ws.frames.every((f) => f.event === 'error' && String(f.data['requestId']).startsWith(padding))).toBe(true);
    });

    it("refuses a user's upgrade past WS_MAX_SOCKETS_PER_USER with 429, even in parallel, and frees the slot on close", async () => {
      const token = await createUser(app, 'ws-hoarder', 'viewer');
      const attempts = await Promise.allSettled(Array.from({ length: 5 }, () => SocketClient.open(app, token)));
      const opened = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
      const refused = attempts.flatMap((a) =>
        a.status === 'rejected' ? [(a.reason as { status?: number }).status] : [],
      );
      expect(opened).toHaveLength(3);
      expect(refused).toEqual([429, 429]);
      expect(await upgradeStatus(app, token)).toBe(429);
      // Another user is not affected.
      expect(await upgradeStatus(app, operator)).toBe('open');
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      expect(metrics).toMatch(/iot_ws_refused_total\{reason="too_many_sockets"\} [1-9]/);

      // The server sees the close a moment after the client does: a few tries, not a fixed sleep.
      await opened[0].close();
      let status = await upgradeStatus(app, token);
      for (let tries = 0; status === 429 && tries < 50; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        status = await upgradeStatus(app, token);
      }
      expect(status).toBe('open');
      await Promise.all(opened.slice(1).map((s) => s.close()));
    });
  });
});
