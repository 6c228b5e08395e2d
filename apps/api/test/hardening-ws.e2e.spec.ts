import {
  StreamRecorder,
  type TestApp,
  api,
  connectDevice,
  createDevice,
  createUser,
  metric,
  startApp,
} from './harness';
import { type Frame, SocketClient, upgradeStatus } from './socket-client';

/** Issue #13, items 1 and 11: the WebSocket against hostile frames, floods and socket hoarding. */

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
        closedByServer = (await metric(app, 'iot_ws_refused_total{reason="unread_replies"}')) === 1;
      }
      expect(closedByServer).toBe(true);
      (ws.socket as unknown as { _socket: { resume(): void } })._socket.resume();
      await ws.closed();
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
      expect(await metric(app, 'iot_ws_refused_total{reason="too_many_sockets"}')).toBeGreaterThan(0);

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
