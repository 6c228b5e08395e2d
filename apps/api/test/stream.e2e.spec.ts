import { connect } from 'node:net';
import type { MqttClient } from 'mqtt';
import { StreamRecorder, type TestApp, connectDevice, createDevice, createUser, metric, startApp } from './harness';

/** Writes a GET by hand and returns everything the api sent within `ms` (head and first chunks, byte for byte). */
function rawGet(app: TestApp, path: string, headers: Record<string, string>, ms = 300): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(app.port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.once('error', reject);
    socket.once('connect', () => {
      const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${app.port}\r\n${lines.join('')}\r\n`);
      setTimeout(() => {
        socket.destroy();
        resolve(received);
      }, ms);
    });
  });
}

/** Requests to the stream's route answered with `status`, as the HTTP metrics count them. */
const rejected = (app: TestApp, status: number) =>
  metric(app, `iot_http_requests_total{method="GET",route="/api/v1/stream",status="${status}"}`);

/**
 * The stream's HTTP edge. A valid GET /api/v1/stream is opened before
 * Express (stream-route.ts); refusals and other spellings of the path go
 * through Express and the controller. Both must look the same on the wire.
 */
describe('GET /api/v1/stream: authentication, CORS, filters', () => {
  let app: TestApp;
  let own: string;

  beforeAll(async () => {
    app = await startApp();
    own = `http://127.0.0.1:${app.port}`;
  });

  afterAll(() => app.stop());

  const stream = (query = '', headers: Record<string, string> = {}) =>
    fetch(`${app.url}/api/v1/stream${query}`, { headers: { accept: 'text/event-stream', ...headers } });

  it('sends the same head and first chunk whether Express serves it or not', async () => {
    const headers = {
      Authorization: `Bearer ${app.adminToken}`,
      Origin: own,
      Accept: 'text/event-stream',
      'X-Request-Id': 'stream-head',
    };
    // The exact path is served before Express; a trailing slash still goes through the controller.
    const direct = await rawGet(app, '/api/v1/stream?events=telemetry', headers);
    const viaExpress = await rawGet(app, '/api/v1/stream/?events=telemetry', headers);
    const withoutDate = (s: string) => s.replace(/\r\nDate: [^\r]+/, '');
    // Express adds helmet's document headers; the direct route sends only nosniff (docs/protocol.md §3).
    const helmetHeaders =
      /\r\n(Content-Security-Policy|Cross-Origin-[A-Za-z-]+|Origin-Agent-Cluster|Referrer-Policy|X-Content-Type-Options|X-DNS-Prefetch-Control|X-Download-Options|X-Frame-Options|X-Permitted-Cross-Domain-Policies|X-XSS-Protection): [^\r]+/g;
    const withoutHelmet = (s: string) => withoutDate(s).replace(helmetHeaders, '');
    expect(withoutHelmet(direct)).toBe(withoutHelmet(viaExpress));
    expect(viaExpress).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/);
    expect(withoutDate(direct)).toBe(
      'HTTP/1.1 200 OK\r\nX-Request-Id: stream-head\r\n' +
        `Access-Control-Allow-Origin: ${own}\r\nVary: Origin\r\nAccess-Control-Allow-Credentials: true\r\n` +
        'Content-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache, no-transform\r\n' +
        'Connection: keep-alive\r\nX-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\nTransfer-Encoding: chunked\r\n\r\n' +
        'd\r\nretry: 2000\n\n\r\n',
    );
  });

  it("answers 401 without a token and with a bad one, in the api's error shape, and counts it", async () => {
    const before = await rejected(app, 401);
    const anonymous = await stream();
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'log in first: send a Bearer token or the session cookie',
    });
    const forged = await stream('', { authorization: `Bearer ${app.adminToken.slice(0, -4)}AAAA` });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ statusCode: 401, message: expect.stringMatching(/log in again/) });
    expect(await rejected(app, 401)).toBe(before + 2);
  });

  it.each(['viewer', 'operator', 'admin'] as const)('lets a %s stream (every role may)', async (role) => {
    const token = await createUser(app, `streamer-${role}`, role);
    const res = await stream('', { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    await res.body?.cancel();
  });

  it.each([
    ['?devices=bad/id', /^devices must be/],
    [`?devices=${Array.from({ length: 1001 }, (_, i) => `d${i}`).join(',')}`, /^devices must be/],
    ['?events=telemetry,bogus', /^events may list telemetry, status, state, command, alarm$/],
    ['?devices=a&devices=b', /^devices may be given once/],
    ['?events=telemetry&events=status', /^events may be given once/],
    ['?lastEventId=x-1&lastEventId=x-2', /^lastEventId may be given once/],
  ])("answers 400 to %#, in the api's error shape, and counts it", async (query, message) => {
    const before = await rejected(app, 400);
    const res = await stream(query, { authorization: `Bearer ${app.adminToken}` });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.stringMatching(message),
    });
    expect(await rejected(app, 400)).toBe(before + 1);
  });

  it('takes the session cookie, and a Bearer header over it as every route does', async () => {
    const cookie = `theme=dark; iot_session=${app.adminToken}`;
    const withCookie = await stream('', { cookie });
    expect(withCookie.status).toBe(200);
    await withCookie.body?.cancel();
    expect((await stream('', { cookie: 'iot_session=nonsense' })).status).toBe(401);
    expect((await stream('', { cookie, authorization: 'Bearer nonsense' })).status).toBe(401);
  });

  it("adds CORS headers for the platform's own origins only, and answers preflights", async () => {
    const allowed = await stream('', { authorization: `Bearer ${app.adminToken}`, origin: own });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(own);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('vary')).toBe('Origin');
    await allowed.body?.cancel();

    const foreign = await stream('', { authorization: `Bearer ${app.adminToken}`, origin: 'http://evil.example' });
    expect(foreign.status).toBe(200);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect(foreign.headers.get('access-control-allow-credentials')).toBeNull();
    await foreign.body?.cancel();

    const preflight = (origin: string) =>
      fetch(`${app.url}/api/v1/stream`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'last-event-id' },
      });
    const ownPreflight = await preflight(own);
    expect(ownPreflight.status).toBe(204);
    expect(ownPreflight.headers.get('access-control-allow-origin')).toBe(own);
    expect(ownPreflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(ownPreflight.headers.get('access-control-allow-headers')).toBe('last-event-id');
    expect((await preflight('http://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('GET /api/v1/stream: Last-Event-ID header and ?lastEventId=', () => {
  let app: TestApp;
  let device: MqttClient;
  let ids: string[];

  beforeAll(async () => {
    app = await startApp();
    device = await connectDevice(app, (await createDevice(app, 'lei-1')).credentials);
    const first = new StreamRecorder(app, app.adminToken, '?events=telemetry');
    await first.opened();
    for (let n = 0; n < 3; n++) await device.publishAsync('devices/lei-1/telemetry', JSON.stringify({ n }), { qos: 1 });
    ids = (await first.waitFor((e) => e.length === 3)).map((e) => e.id);
    first.close();
  });

  afterAll(async () => {
    await device.endAsync();
    await app.stop();
  });

  async function firstEvents(query: string, header: string | undefined, count: number) {
    const recorder = new StreamRecorder(app, app.adminToken, query, header);
    const events = await recorder.waitFor((e) => e.length >= count);
    recorder.close();
    return events.slice(0, count).map((e) => (e.type === 'reset' ? 'reset' : (e.data['values'] as { n: number }).n));
  }

  it('resumes from the header when both are given', async () => {
    expect(await firstEvents(`?events=telemetry&lastEventId=${ids[1]}`, ids[0], 2)).toEqual([1, 2]);
  });

  it('ignores a valid ?lastEventId= when the header holds another (unknown) id', async () => {
    expect(await firstEvents(`?events=telemetry&lastEventId=${ids[0]}`, 'elsewhere-7', 1)).toEqual(['reset']);
  });

  it('resumes from the query when there is no header', async () => {
    expect(await firstEvents(`?events=telemetry&lastEventId=${ids[1]}`, undefined, 1)).toEqual([2]);
  });
});
