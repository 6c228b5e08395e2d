import type { MqttClient } from 'mqtt';
import { STREAM_HEARTBEAT_MS } from '@iot/protocol';
import { MAX_BODY_BYTES } from '../src/edges/http/http-guards';
import { ADMIN, StreamRecorder, type TestApp, connectDevice, createDevice, startApp, within } from './harness';
import { type RunningNginx, nginxMissing, startNginx } from './nginx';
import { freePort } from './postgres';
import { SocketClient } from './socket-client';

const skipReason = nginxMissing();
if (skipReason) console.warn(`skipping the nginx tests: ${skipReason}`);
const describeWithNginx = skipReason ? describe.skip : describe;

/** A raw SSE response body, read as it comes, to see comments and timing. */
class RawStream {
  text = '';
  private waiters: Array<() => void> = [];

  private constructor(
    readonly res: Response,
    private readonly controller: AbortController,
  ) {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          this.text += decoder.decode(value, { stream: true });
          for (const wake of this.waiters.splice(0)) wake();
        }
      } catch {
        // closed
      }
    })();
  }

  static async open(url: string, token: string): Promise<RawStream> {
    const controller = new AbortController();
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    return new RawStream(res, controller);
  }

  async until(predicate: (text: string) => boolean): Promise<void> {
    while (!predicate(this.text)) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.controller.abort();
  }
}

describeWithNginx('deploy/nginx/nginx.conf in front of the api', () => {
  let app: TestApp;
  let nginx: RunningNginx;
  let device: MqttClient;
  const front = () => ({ url: nginx.url, port: nginx.port });

  beforeAll(async () => {
    const port = await freePort();
    // The browser's origin is nginx's: the api must allow it.
    app = await startApp({ ALLOWED_ORIGINS: `http://127.0.0.1:${port}`, LOGIN_MAX_FAILURES: '1' });
    nginx = await startNginx(port, [app.port]);
    device = await connectDevice(app, (await createDevice(app, 'front-1')).credentials);
  });

  afterAll(async () => {
    await device?.endAsync();
    await nginx?.stop();
    await app?.stop();
  });

  const publish = (n: number) => device.publishAsync('devices/front-1/telemetry', JSON.stringify({ n }), { qos: 1 });

  it(
    'passes SSE frames as they happen, and the heartbeat comment',
    async () => {
      const stream = await RawStream.open(
        `${nginx.url}/api/v1/stream?devices=front-1&events=telemetry`,
        app.adminToken,
      );
      expect(stream.res.status).toBe(200);
      expect(stream.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      // Not buffered: a frame published now arrives long before the next heartbeat could push it out.
      const sent = Date.now();
      await publish(1);
      await within(
        stream.until((text) => text.includes('"n":1')),
        3_000,
        'a telemetry frame through nginx',
      );
      expect(Date.now() - sent).toBeLessThan(3_000);
      expect(stream.text).toMatch(/^id: .+\nevent: telemetry\ndata: .*"n":1/m);
      await within(
        stream.until((text) => /^:\n\n/m.test(text)),
        STREAM_HEARTBEAT_MS + 3_000,
        'a heartbeat comment through nginx',
      );
      stream.close();
    },
    STREAM_HEARTBEAT_MS + 10_000,
  );

  it('resumes a stream with Last-Event-ID', async () => {
    const first = new StreamRecorder(front(), app.adminToken, '?devices=front-1&events=telemetry');
    await first.opened();
    await publish(10);
    await first.waitFor((e) => e.some((x) => (x.data['values'] as { n: number }).n === 10));
    const lastId = first.events.at(-1)!.id;
    first.close();
    await publish(11);
    await publish(12);
    const second = new StreamRecorder(front(), app.adminToken, '?devices=front-1&events=telemetry', lastId);
    await second.opened();
    await second.waitFor((e) => e.length >= 2);
    second.close();
    expect(second.events.map((e) => (e.data['values'] as { n: number }).n)).toEqual([11, 12]);
  });

  it('carries a WebSocket: command.send gets its replies', async () => {
    device.on('message', (topic) => {
      const match = /^devices\/front-1\/commands\/([^/]+)$/.exec(topic);
      if (!match) return;
      device.publish(`${topic}/result`, JSON.stringify({ status: 'accepted' }), { qos: 1 });
      device.publish(`${topic}/result`, JSON.stringify({ status: 'succeeded', result: { ok: true } }), { qos: 1 });
    });
    await device.subscribeAsync('devices/front-1/commands/+', { qos: 1 });
    const ws = await SocketClient.open(front(), app.adminToken);
    ws.send('command.send', { requestId: 'via-nginx', deviceId: 'front-1', name: 'reboot' });
    await ws.waitFor(() => ws.statuses('via-nginx').includes('succeeded'));
    expect(ws.statuses('via-nginx')).toEqual(['sent', 'accepted', 'succeeded']);
    await ws.close();
  });

  it("logs in with the session cookie on nginx's origin, and refuses a foreign origin", async () => {
    const res = await fetch(`${nginx.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: nginx.origin },
      body: JSON.stringify(ADMIN),
    });
    expect(res.status).toBe(200);
    const cookie = res.headers.get('set-cookie')!.split(';')[0];
    expect(cookie).toMatch(/^iot_session=./);
    const me = await fetch(`${nginx.url}/api/v1/auth/me`, { headers: { cookie } });
    expect(await me.json()).toEqual({ username: ADMIN.username, role: 'admin', scope: null });

    const socket = await SocketClient.open(front(), undefined, { cookie, origin: nginx.origin });
    await socket.close();
    await expect(
      SocketClient.open(front(), undefined, { cookie, origin: 'https://evil.example' }),
    ).rejects.toMatchObject({ status: 403 });
    const foreign = await fetch(`${nginx.url}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { cookie, origin: 'https://evil.example' },
    });
    expect(foreign.status).toBe(403);
    const out = await fetch(`${nginx.url}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { cookie, origin: nginx.origin },
    });
    expect(out.status).toBeLessThan(300);
    expect((await fetch(`${nginx.url}/api/v1/auth/me`, { headers: { cookie } })).status).toBe(401);
  });

  it('gives the api the address nginx sees, not one the client claims', async () => {
    const attempt = (claimed: string) =>
      fetch(`${nginx.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': claimed },
        body: JSON.stringify({ username: 'mallory', password: 'not-the-password' }),
      });
    expect((await attempt('198.51.100.1')).status).toBe(401);
    // Another claimed address is the same client to the api: past LOGIN_MAX_FAILURES (1) it is refused.
    expect((await attempt('198.51.100.2')).status).toBe(429);
  });

  it("takes a body of the api's limit and refuses a larger one itself", async () => {
    const body = (size: number) => {
      const shell = JSON.stringify({ id: 'big', name: '', type: 'x' });
      return JSON.stringify({ id: 'big', name: 'x'.repeat(size - shell.length), type: 'x' });
    };
    const post = (text: string) =>
      fetch(`${nginx.url}/api/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${app.adminToken}`, 'content-type': 'application/json' },
        body: text,
      });
    const atLimit = await post(body(MAX_BODY_BYTES));
    // The api reads it and refuses the name as too long (400), not the size.
    expect(atLimit.status).toBe(400);
    const over = await post(body(MAX_BODY_BYTES + 1));
    expect(over.status).toBe(413);
    // nginx's own page: the api never got it.
    expect(await over.text()).toMatch(/<center>nginx<\/center>/);
  });
});
