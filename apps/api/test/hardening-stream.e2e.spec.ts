import { type IncomingMessage, get } from 'node:http';
import type { MqttClient } from 'mqtt';
import { LIMITS } from '@iot/protocol';
import { EventRepository } from '../src/domain/events';
import {
  StreamRecorder,
  type TestApp,
  api,
  connectDevice,
  createDevice,
  createUser,
  metric,
  nextErrorNotice,
  startApp,
} from './harness';
import { type Frame, SocketClient } from './socket-client';

/** `{"a":{"a":…{}…}}` nested `depth` objects deep, as JSON text. */
const nestedJson = (depth: number) => '{"a":'.repeat(depth) + '{}' + '}'.repeat(depth);

/** Sends one WebSocket request and resolves with the frame that answers its requestId. */
async function wsRequest(app: TestApp, token: string, event: string, data: Record<string, unknown>): Promise<Frame> {
  const ws = await SocketClient.open(app, token);
  try {
    const requestId = `r-${Math.random().toString(36).slice(2)}`;
    // Written by hand, so a patch nested thousands deep needs no recursive JSON.stringify.
    const body = JSON.stringify({ requestId, ...data, patch: '@PATCH@' });
    const patch = typeof data['patch'] === 'string' ? data['patch'] : JSON.stringify(data['patch']);
    ws.socket.send(`{"event":${JSON.stringify(event)},"data":${body.replace('"@PATCH@"', patch)}}`);
    await ws.waitFor(() => ws.replies(requestId).length > 0);
    return ws.replies(requestId)[0];
  } finally {
    await ws.close();
  }
}

/** PATCHes the desired state with a body given as JSON text. */
async function patchDesired(
  app: TestApp,
  token: string,
  deviceId: string,
  json: string,
): Promise<{ status: number; body: { message?: string; version?: number } }> {
  const res = await fetch(`${app.url}/api/v1/devices/${deviceId}/state/desired`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/merge-patch+json' },
    body: json,
  });
  return { status: res.status, body: (await res.json()) as { message?: string; version?: number } };
}

describe('state documents: size, depth and untrusted keys (issue #13, items 3 and 13)', () => {
  let app: TestApp;
  let device: MqttClient;
  let operator: string;

  beforeAll(async () => {
    app = await startApp();
    const { credentials } = await createDevice(app, 'doc-1');
    device = await connectDevice(app, credentials);
    operator = await createUser(app, 'op-doc', 'operator');
  });

  afterAll(async () => {
    await device?.endAsync();
    await app?.stop();
  });

  /** Reports state and waits until the platform has it. */
  async function report(patch: Record<string, unknown>): Promise<void> {
    await device.publishAsync('devices/doc-1/state/reported', JSON.stringify(patch), { qos: 1 });
    for (let i = 0; i < 100; i++) {
      const { body } = await api<{ reported: Record<string, unknown> }>(app, operator, 'GET', '/devices/doc-1/state');
      const has = (k: string, v: unknown) =>
        v === null ? !Object.hasOwn(body.reported, k) : JSON.stringify(body.reported[k]) === JSON.stringify(v);
      if (Object.entries(patch).every(([k, v]) => has(k, v))) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('the reported state never arrived');
  }

  it('refuses a reported patch that would take the document over STATE_MAX_BYTES, with a notice, and keeps the document', async () => {
    await report({ small: 1, big: 'x'.repeat(40_000) });
    const before = await api(app, operator, 'GET', '/devices/doc-1/state');
    const next = await nextErrorNotice(device, 'doc-1');
    const refused = await metric(app, 'iot_messages_rejected_total{reason="state_too_large"}');
    const notice = next();
    await device.publishAsync('devices/doc-1/state/reported', JSON.stringify({ more: 'y'.repeat(30_000) }), { qos: 1 });
    expect(await notice).toMatchObject({
      topic: 'devices/doc-1/state/reported',
      error: expect.stringContaining(`over the limit of ${LIMITS.maxStateBytes}`),
    });
    expect(await metric(app, 'iot_messages_rejected_total{reason="state_too_large"}')).toBe(refused + 1);
    expect((await api(app, operator, 'GET', '/devices/doc-1/state')).body).toEqual(before.body);
    // A patch that shrinks it is taken.
    await report({ big: null, after: true });
  });

  it('answers 413 to a desired patch over the bound, and a WebSocket bad_request; the document and version stay', async () => {
    const first = JSON.stringify({ mode: 'eco', blob1: 'z'.repeat(40_000) });
    expect((await patchDesired(app, operator, 'doc-1', first)).status).toBe(200);
    const before = await api(app, operator, 'GET', '/devices/doc-1/state');
    const refused = await patchDesired(app, operator, 'doc-1', JSON.stringify({ blob2: 'z'.repeat(30_000) }));
    expect(refused.status).toBe(413);
    expect(refused.body.message).toContain(`over the limit of ${LIMITS.maxStateBytes} (STATE_MAX_BYTES)`);
    const ws = await wsRequest(app, operator, 'state.desired.set', {
      deviceId: 'doc-1',
      patch: { blob3: 'z'.repeat(30_000) },
    });
    expect(ws).toMatchObject({
      event: 'error',
      data: { code: 'bad_request', message: expect.stringContaining('STATE_MAX_BYTES') },
    });
    expect((await api(app, operator, 'GET', '/devices/doc-1/state')).body).toEqual(before.body);
    expect((await patchDesired(app, operator, 'doc-1', JSON.stringify({ blob1: null }))).status).toBe(200);
  });

  it('answers 400 naming the limit to a desired patch nested 3,000 deep (HTTP and WebSocket), and the api stays up', async () => {
    const http = await patchDesired(app, operator, 'doc-1', nestedJson(3_000));
    expect(http.status).toBe(400);
    expect(http.body.message).toContain(`${LIMITS.maxStateDepth} levels`);
    const ws = await wsRequest(app, operator, 'state.desired.set', { deviceId: 'doc-1', patch: nestedJson(5_000) });
    expect(ws).toMatchObject({
      event: 'error',
      data: { code: 'bad_request', message: expect.stringContaining(`${LIMITS.maxStateDepth} levels`) },
    });
    // At the limit it is taken.
    expect((await patchDesired(app, operator, 'doc-1', nestedJson(LIMITS.maxStateDepth - 1))).status).toBe(200);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  });

  it('tells a device that reports state nested 5,000 deep why, with an invalid_state notice', async () => {
    const next = await nextErrorNotice(device, 'doc-1');
    const refused = await metric(app, 'iot_messages_rejected_total{reason="invalid_state"}');
    const notice = next();
    await device.publishAsync('devices/doc-1/state/reported', nestedJson(5_000), { qos: 1 });
    expect(await notice).toMatchObject({
      topic: 'devices/doc-1/state/reported',
      error: expect.stringContaining(`${LIMITS.maxStateDepth} levels`),
    });
    expect(await metric(app, 'iot_messages_rejected_total{reason="invalid_state"}')).toBe(refused + 1);
  });

  it('refuses __proto__ keys and keeps constructor and prototype as plain data, with the rest of the patch', async () => {
    const proto = await patchDesired(app, operator, 'doc-1', '{"ok":1,"__proto__":{"polluted":true}}');
    expect(proto.status).toBe(400);
    expect(proto.body.message).toContain('__proto__');
    const unchanged = await api<{ desired: Record<string, unknown> }>(app, operator, 'GET', '/devices/doc-1/state');
    expect(Object.keys(unchanged.body.desired)).not.toContain('ok');
    const ws = await wsRequest(app, operator, 'state.desired.set', {
      deviceId: 'doc-1',
      patch: '{"x":{"__proto__":{"polluted":true}}}',
    });
    expect(ws).toMatchObject({ event: 'error', data: { code: 'bad_request' } });
    const top = await wsRequest(app, operator, 'state.desired.set', {
      deviceId: 'doc-1',
      patch: '{"ok":1,"__proto__":{"polluted":true}}',
    });
    expect(top).toMatchObject({
      event: 'error',
      data: { code: 'bad_request', message: expect.stringContaining('__proto__') },
    });
    const next = await nextErrorNotice(device, 'doc-1');
    const notice = next();
    await device.publishAsync('devices/doc-1/state/reported', '{"__proto__":{"polluted":true}}', { qos: 1 });
    expect((await notice).error).toContain('__proto__');

    const plain = await patchDesired(
      app,
      operator,
      'doc-1',
      '{"first":1,"constructor":{"name":"c"},"prototype":2,"hasOwnProperty":3,"last":4}',
    );
    expect(plain.status).toBe(200);
    const { body } = await api<{ desired: Record<string, unknown>; delta: Record<string, unknown> }>(
      app,
      operator,
      'GET',
      '/devices/doc-1/state',
    );
    expect(body.desired).toMatchObject({
      first: 1,
      constructor: { name: 'c' },
      prototype: 2,
      hasOwnProperty: 3,
      last: 4,
    });
    expect(body.delta).toMatchObject({ constructor: { name: 'c' }, prototype: 2, last: 4 });
    await report({ constructor: { name: 'c' }, toString: 'plain' });
    const after = await api<{ delta: Record<string, unknown> }>(app, operator, 'GET', '/devices/doc-1/state');
    expect(Object.keys(after.body.delta)).not.toContain('constructor');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('an event larger than SSE_MAX_QUEUED_BYTES (issue #13, item 3)', () => {
  let app: TestApp;
  let device: MqttClient;

  beforeAll(async () => {
    app = await startApp({ SSE_MAX_QUEUED_BYTES: '65536', STATE_MAX_BYTES: '200000' });
    const { credentials } = await createDevice(app, 'big-1');
    device = await connectDevice(app, credentials);
  });

  afterAll(async () => {
    await device?.endAsync();
    await app?.stop();
  });

  it('reaches a live stream and a stream resuming from before it, and neither is dropped', async () => {
    const live = new StreamRecorder(app, app.adminToken, '?devices=big-1&events=state');
    await live.opened();
    let errors = 0;
    live.source.addEventListener('error', () => errors++);
    await device.publishAsync('devices/big-1/state/reported', JSON.stringify({ n: 1 }), { qos: 1 });
    await device.publishAsync('devices/big-1/state/reported', JSON.stringify({ n: 2, blob: 'b'.repeat(150_000) }), {
      qos: 1,
    });
    // Once it has arrived, so the next one does not find it still queued.
    await live.waitFor((e) => e.length >= 2);
    await device.publishAsync('devices/big-1/state/reported', JSON.stringify({ n: 3, blob: null }), { qos: 1 });
    const seen = await live.waitFor((e) => e.length >= 3);
    live.close();
    expect(seen.map((e) => (e.data['reported'] as { n: number }).n)).toEqual([1, 2, 3]);

    const resumed = new StreamRecorder(app, app.adminToken, '?devices=big-1&events=state', seen[0].id);
    let resumedErrors = 0;
    resumed.source.addEventListener('error', () => resumedErrors++);
    await resumed.opened();
    await resumed.waitFor((e) => e.length >= 2);
    await device.publishAsync('devices/big-1/state/reported', JSON.stringify({ n: 4 }), { qos: 1 });
    const events = await resumed.waitFor((e) => e.length >= 3);
    resumed.close();
    expect(events.map((e) => (e.data['reported'] as { n: number }).n)).toEqual([2, 3, 4]);
    expect((events[0].data['reported'] as { blob: string }).blob).toHaveLength(150_000);
    expect(errors + resumedErrors).toBe(0);
    expect(await metric(app, 'iot_sse_dropped_total')).toBe(0);
  });
});

describe('stream caps (issue #13, item 5)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({ SSE_MAX_STREAMS_PER_USER: '3', SSE_MAX_STREAMS: '5' });
  });

  afterAll(() => app?.stop());

  async function refusal(
    token: string,
    path = '/api/v1/stream',
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('answers 429 past the streams of one user and in all, on both ways in, and frees a slot when a stream closes', async () => {
    const alice = await createUser(app, 'alice-sse', 'viewer');
    const bob = await createUser(app, 'bob-sse', 'viewer');
    const carol = await createUser(app, 'carol-sse', 'viewer');
    const open: StreamRecorder[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const stream = new StreamRecorder(app, alice);
        open.push(stream);
        await stream.opened();
      }
      expect(await refusal(alice)).toEqual({
        status: 429,
        body: {
          statusCode: 429,
          error: 'Too Many Requests',
          message: expect.stringContaining('SSE_MAX_STREAMS_PER_USER'),
        },
      });
      // Another spelling of the path, which the controller serves.
      expect((await refusal(alice, '/api/v1/stream/')).status).toBe(429);
      // Another user still connects, up to the total.
      for (let i = 0; i < 2; i++) {
        const stream = new StreamRecorder(app, bob);
        open.push(stream);
        await stream.opened();
      }
      const total = await refusal(carol);
      expect(total.status).toBe(429);
      expect(total.body['message']).toContain('SSE_MAX_STREAMS');
      expect(await metric(app, 'iot_sse_clients')).toBe(5);

      open.shift()?.close();
      for (let i = 0; i < 100 && (await metric(app, 'iot_sse_clients')) > 4; i++)
        await new Promise((r) => setTimeout(r, 20));
      const again = new StreamRecorder(app, alice);
      open.push(again);
      await again.opened();
    } finally {
      for (const stream of open) stream.close();
    }
  });
});

describe('a resumer that does not read (issue #13, item 5)', () => {
  let app: TestApp;
  let device: MqttClient;

  beforeAll(async () => {
    app = await startApp();
    const { credentials } = await createDevice(app, 'log-1');
    device = await connectDevice(app, credentials);
  });

  afterAll(async () => {
    await device?.endAsync();
    await app?.stop();
  });

  it('makes the api read only a few pages of the log until it reads, then gets every event once, in order', async () => {
    const count = 300;
    const recorder = new StreamRecorder(app, app.adminToken, '?devices=log-1&events=state');
    await recorder.opened();
    const blob = 'l'.repeat(60_000);
    await Promise.all(
      Array.from({ length: count }, (_, n) =>
        device.publishAsync('devices/log-1/state/reported', JSON.stringify({ n, blob }), { qos: 1 }),
      ),
    );
    const ids = (await recorder.waitFor((e) => e.length >= count, 30_000)).map((e) => e.id);
    recorder.close();
    expect(ids).toHaveLength(count);

    const storage = app.app.get(EventRepository);
    const read = storage.eventsAfter.bind(storage);
    let rowsRead = 0;
    const spy = jest.spyOn(storage, 'eventsAfter').mockImplementation(async (...args) => {
      const page = await read(...args);
      rowsRead += page.length;
      return page;
    });
    try {
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        get(
          `${app.url}/api/v1/stream?devices=log-1&events=state`,
          { headers: { authorization: `Bearer ${app.adminToken}`, 'last-event-id': ids[0] } },
          resolve,
        ).on('error', reject);
      });
      response.pause();
      expect(response.statusCode).toBe(200);
      // Until the reads stop: the socket's buffers fill and the replay waits for them to drain.
      let last = -1;
      for (let i = 0; i < 100 && rowsRead !== last; i++) {
        last = rowsRead;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(rowsRead).toBe(last);
      expect(rowsRead).toBeLessThan((count - 1) / 2);

      let text = '';
      const received: string[] = [];
      const done = new Promise<void>((resolve) => {
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
          let end: number;
          while ((end = text.indexOf('\n\n')) >= 0) {
            const id = /^id: (.*)$/m.exec(text.slice(0, end))?.[1];
            text = text.slice(end + 2);
            if (id !== undefined) received.push(id);
            if (received.length >= count) resolve();
          }
        });
        response.resume();
      });
      await device.publishAsync('devices/log-1/state/reported', JSON.stringify({ n: count, blob: null }), { qos: 1 });
      await done;
      response.destroy();
      expect(received.slice(0, count - 1)).toEqual(ids.slice(1));
      expect(new Set(received).size).toBe(received.length);
    } finally {
      spy.mockRestore();
    }
  }, 60_000);
});
