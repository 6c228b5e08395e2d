import type {
  CommandAccepted,
  CommandListResponse,
  CommandView,
  CommandWithHistoryView,
  DeviceCredentials,
} from '@iot/protocol';
import type { MqttClient } from 'mqtt';
import WebSocket from 'ws';
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
import { SocketClient } from './socket-client';

type Behaviour = 'succeed' | 'fail' | 'silent';

/** A device that subscribes to its commands and answers as told. */
async function device(
  app: TestApp,
  credentials: { username: string; password: string },
  behaviour: Behaviour = 'succeed',
): Promise<MqttClient> {
  const client = await connectDevice(app, credentials);
  const id = credentials.username;
  client.on('message', (topic, payload) => {
    const match = new RegExp(`^devices/${id}/commands/([^/]+)$`).exec(topic);
    if (!match || behaviour === 'silent') return;
    const { params } = JSON.parse(payload.toString()) as { params: Record<string, unknown> };
    const result = `devices/${id}/commands/${match[1]}/result`;
    client.publish(result, JSON.stringify({ status: 'accepted' }), { qos: 1 });
    client.publish(
      result,
      JSON.stringify(
        behaviour === 'succeed'
          ? { status: 'succeeded', result: { echo: params } }
          : { status: 'failed', error: 'relay stuck' },
      ),
      { qos: 1 },
    );
  });
  await client.subscribeAsync(`devices/${id}/commands/+`, { qos: 1 });
  return client;
}

let counter = 0;
const rid = () => `r${++counter}`;

describe('device control over WebSocket and REST', () => {
  let app: TestApp;
  let operator: string;
  let viewer: string;

  beforeAll(async () => {
    app = await startApp();
    operator = await createUser(app, 'olga', 'operator');
    viewer = await createUser(app, 'victor', 'viewer');
  });

  afterAll(() => app.stop());

  it("shows sent → accepted → succeeded on the socket, on another user's SSE stream, and in history", async () => {
    const { credentials } = await createDevice(app, 'plug-1');
    const plug = await device(app, credentials);
    const watcher = new StreamRecorder(app, viewer, '?devices=plug-1&events=command');
    await watcher.opened();
    const ws = await SocketClient.open(app, operator);
    const requestId = rid();
    ws.send('command.send', { requestId, deviceId: 'plug-1', name: 'relay.set', params: { on: true } });
    await ws.waitFor(() => ws.statuses(requestId).includes('succeeded'));
    expect(ws.statuses(requestId)).toEqual(['sent', 'accepted', 'succeeded']);
    const final = ws.frames.find((f) => f.data['status'] === 'succeeded')!;
    expect(final.data['result']).toEqual({ echo: { on: true } });
    const commandId = final.data['commandId'] as string;

    await watcher.waitFor((e) => e.some((x) => x.data['status'] === 'succeeded'));
    expect(watcher.events.map((e) => e.data['status'])).toEqual(['sent', 'accepted', 'succeeded']);
    expect(watcher.events.every((e) => e.data['commandId'] === commandId)).toBe(true);

    const history = await api<CommandListResponse>(app, viewer, 'GET', '/devices/plug-1/commands');
    expect(history.body.items[0].commandId).toBe(commandId);
    expect(history.body.items[0].transitions).toEqual([
      { status: 'sent', ts: expect.any(Number), by: 'olga' },
      { status: 'accepted', ts: expect.any(Number) },
      { status: 'succeeded', ts: expect.any(Number) },
    ]);
    const one = await api<CommandWithHistoryView>(app, viewer, 'GET', `/commands/${commandId}`);
    expect(one.body).toMatchObject({ status: 'succeeded', createdBy: 'olga' });
    watcher.close();
    await ws.close();
    await plug.endAsync();
  });

  it('reports a device failure as failed, with its error', async () => {
    const { credentials } = await createDevice(app, 'plug-2');
    const plug = await device(app, credentials, 'fail');
    const ws = await SocketClient.open(app, operator);
    const requestId = rid();
    ws.send('command.send', { requestId, deviceId: 'plug-2', name: 'relay.set' });
    const frames = await ws.waitFor(() => ws.statuses(requestId).includes('failed'));
    expect(frames.find((f) => f.data['status'] === 'failed')!.data['error']).toBe('relay stuck');
    await ws.close();
    await plug.endAsync();
  });

  it('holds a command for an offline device and sends it once the device subscribes', async () => {
    const { credentials } = await createDevice(app, 'late-1');
    const ws = await SocketClient.open(app, operator);
    const requestId = rid();
    ws.send('command.send', { requestId, deviceId: 'late-1', name: 'reboot' });
    await ws.waitFor(() => ws.statuses(requestId).length === 1);
    expect(ws.statuses(requestId)).toEqual(['pending']);
    const late = await device(app, credentials);
    await ws.waitFor(() => ws.statuses(requestId).includes('succeeded'));
    expect(ws.statuses(requestId)).toEqual(['pending', 'sent', 'accepted', 'succeeded']);
    await ws.close();
    await late.endAsync();
  });

  it('times out a command nobody answers, and expires one never sent', async () => {
    const { credentials } = await createDevice(app, 'mute-1');
    const mute = await device(app, credentials, 'silent');
    await createDevice(app, 'away-1');
    const ws = await SocketClient.open(app, operator);
    const slow = rid();
    const stale = rid();
    ws.send('command.send', { requestId: slow, deviceId: 'mute-1', name: 'reboot', timeoutMs: 300 });
    ws.send('command.send', { requestId: stale, deviceId: 'away-1', name: 'reboot', ttlMs: 200 });
    await ws.waitFor(() => ws.statuses(slow).includes('timed-out') && ws.statuses(stale).includes('expired'));
    expect(ws.statuses(slow)).toEqual(['sent', 'timed-out']);
    expect(ws.statuses(stale)).toEqual(['pending', 'expired']);
    // A result after the timeout is ignored and counted.
    const commandId = ws.frames.find((f) => f.data['requestId'] === slow)!.data['commandId'] as string;
    await mute.publishAsync(`devices/mute-1/commands/${commandId}/result`, JSON.stringify({ status: 'succeeded' }), {
      qos: 1,
    });
    const one = await api<CommandWithHistoryView>(app, operator, 'GET', `/commands/${commandId}`);
    expect(one.body.status).toBe('timed-out');
    await ws.close();
    await mute.endAsync();
  });

  it('cancels a pending command, and refuses to cancel one already sent', async () => {
    const { credentials } = await createDevice(app, 'cancel-1');
    await createDevice(app, 'cancel-2');
    const mute = await device(app, credentials, 'silent');
    const ws = await SocketClient.open(app, operator);
    const held = rid();
    const sent = rid();
    ws.send('command.send', { requestId: held, deviceId: 'cancel-2', name: 'reboot' });
    ws.send('command.send', { requestId: sent, deviceId: 'cancel-1', name: 'reboot' });
    await ws.waitFor(() => ws.statuses(held).length === 1 && ws.statuses(sent).length === 1);
    const heldId = ws.frames.find((f) => f.data['requestId'] === held)!.data['commandId'];
    const sentId = ws.frames.find((f) => f.data['requestId'] === sent)!.data['commandId'];
    const cancel = rid();
    const refused = rid();
    ws.send('command.cancel', { requestId: cancel, commandId: heldId });
    ws.send('command.cancel', { requestId: refused, commandId: sentId });
    await ws.waitFor(
      (f) => f.some((x) => x.data['requestId'] === cancel) && f.some((x) => x.data['requestId'] === refused),
    );
    expect(ws.frames.find((f) => f.data['requestId'] === cancel)).toMatchObject({
      event: 'command.status',
      data: { status: 'cancelled' },
    });
    expect(ws.frames.find((f) => f.data['requestId'] === refused)).toMatchObject({
      event: 'error',
      data: { code: 'conflict' },
    });
    await ws.close();
    await mute.endAsync();
  });

  it('answers a repeated requestId with the same command, never a second one', async () => {
    await createDevice(app, 'dup-1');
    const ws = await SocketClient.open(app, operator);
    const requestId = rid();
    ws.send('command.send', { requestId, deviceId: 'dup-1', name: 'reboot' });
    ws.send('command.send', { requestId, deviceId: 'dup-1', name: 'reboot' });
    await ws.waitFor((f) => f.filter((x) => x.data['requestId'] === requestId).length === 2);
    const ids = ws.frames.filter((x) => x.data['requestId'] === requestId).map((x) => x.data['commandId']);
    expect(ids[0]).toBe(ids[1]);
    const history = await api<CommandListResponse>(app, operator, 'GET', '/devices/dup-1/commands');
    expect(history.body.items).toHaveLength(1);
    await ws.close();
  });

  it.each([
    ['malformed JSON', '{"event": ', { code: 'bad_request' }, false],
    ['no envelope', '[1,2]', { code: 'bad_request' }, false],
    [
      'an unknown event',
      JSON.stringify({ event: 'nope', data: { requestId: 'x1' } }),
      { code: 'bad_request', requestId: 'x1' },
      true,
    ],
    [
      'a missing field',
      JSON.stringify({ event: 'command.send', data: { requestId: 'x2', name: 'a' } }),
      { code: 'bad_request', requestId: 'x2' },
      true,
    ],
    [
      'a bad command name',
      JSON.stringify({ event: 'command.send', data: { requestId: 'x3', deviceId: 'd', name: '9' } }),
      { code: 'bad_request', requestId: 'x3' },
      true,
    ],
    [
      'an unknown device',
      JSON.stringify({ event: 'command.send', data: { requestId: 'x4', deviceId: 'ghost', name: 'a' } }),
      { code: 'not_found', requestId: 'x4' },
      true,
    ],
  ])('answers %s with an error frame and keeps the socket', async (_name, raw, expected, hasRequestId) => {
    const ws = await SocketClient.open(app, operator);
    ws.socket.send(raw);
    const [frame] = await ws.waitFor((f) => f.length === 1);
    expect(frame.event).toBe('error');
    expect(frame.data).toMatchObject(expected);
    expect('requestId' in frame.data).toBe(hasRequestId);
    expect(ws.socket.readyState).toBe(WebSocket.OPEN);
    await ws.close();
  });

  it('closes with 1003 on a binary frame and 1009 on an oversized one', async () => {
    const binary = await SocketClient.open(app, operator);
    binary.socket.send(Buffer.from([1, 2, 3]));
    expect(await binary.closed()).toBe(1003);
    const big = await SocketClient.open(app, operator);
    big.socket.send(JSON.stringify({ event: 'command.send', data: { pad: 'x'.repeat(70_000) } }));
    expect(await big.closed()).toBe(1009);
  });

  it("refuses a viewer's commands, a foreign Origin, and no credentials", async () => {
    const ws = await SocketClient.open(app, viewer);
    ws.send('command.send', { requestId: 'v1', deviceId: 'plug-1', name: 'reboot' });
    const [frame] = await ws.waitFor((f) => f.length === 1);
    expect(frame.data).toMatchObject({ requestId: 'v1', code: 'forbidden' });
    await ws.close();
    await expect(SocketClient.open(app, operator, { origin: 'http://evil.example' })).rejects.toThrow(/403/);
    await expect(SocketClient.open(app, undefined)).rejects.toThrow(/401/);
    await expect(SocketClient.open(app, undefined, { origin: `http://127.0.0.1:${app.port}` })).rejects.toThrow(/401/);
    const own = await SocketClient.open(app, operator, { origin: `http://localhost:${app.port}` });
    await own.close();
  });

  it('rate-limits a socket that floods requests', async () => {
    const ws = await SocketClient.open(app, operator);
    for (let i = 0; i < 60; i++) ws.socket.send('{}');
    await ws.waitFor((f) => f.length === 60);
    expect(ws.frames.some((f) => f.data['code'] === 'rate_limited')).toBe(true);
    await ws.close();
  });

  it('takes REST commands through the same path, waiting for the outcome with ?wait=true', async () => {
    const { credentials } = await createDevice(app, 'rest-1');
    const plug = await device(app, credentials);
    const accepted = await api<CommandAccepted>(app, operator, 'POST', '/devices/rest-1/commands', { name: 'ping' });
    expect(accepted.status).toBe(202);
    expect(accepted.body.status).toBe('sent');
    const waited = await api<CommandView>(app, operator, 'POST', '/devices/rest-1/commands?wait=true', {
      name: 'ping',
      params: { n: 1 },
    });
    expect(waited.status).toBe(200);
    expect(waited.body).toMatchObject({ status: 'succeeded', result: { echo: { n: 1 } } });
    expect((await api(app, viewer, 'POST', '/devices/rest-1/commands', { name: 'ping' })).status).toBe(403);
    await plug.endAsync();
  });

  it('brings 200 concurrent commands over 20 devices to exactly one terminal status each', async () => {
    const devices: MqttClient[] = [];
    for (let i = 0; i < 20; i++) {
      const { credentials } = await createDevice(app, `fleet-${i}`);
      devices.push(await device(app, credentials, i % 5 === 0 ? 'fail' : 'succeed'));
    }
    // A user of its own: the rate limit is per user, and the flood test above spent olga's budget.
    const ws = await SocketClient.open(app, await createUser(app, 'bulk-operator', 'operator'));
    const requests = Array.from({ length: 200 }, (_, i) => ({
      requestId: `bulk-${i}`,
      deviceId: `fleet-${i % 20}`,
      name: 'blink',
    }));
    // Under the rate limit: send in bursts of 20 and wait for their first replies.
    for (let i = 0; i < requests.length; i += 20) {
      for (const request of requests.slice(i, i + 20)) ws.send('command.send', request);
      await ws.waitFor(() => requests.slice(i, i + 20).every((r) => ws.statuses(r.requestId).length > 0));
      await new Promise((resolve) => setTimeout(resolve, 1000)); // refill the token bucket
    }
    const terminal = (r: { requestId: string }) =>
      ws.statuses(r.requestId).filter((s) => s === 'succeeded' || s === 'failed');
    await ws.waitFor(() => requests.every((r) => terminal(r).length > 0), 30_000);
    for (const r of requests) expect(terminal(r)).toHaveLength(1);
    const failed = requests.filter((r) => terminal(r)[0] === 'failed').length;
    expect(failed).toBe(40);
    await ws.close();
    await Promise.all(devices.map((d) => d.endAsync()));
  });
});

describe('desired and reported state', () => {
  let app: TestApp;
  let operator: string;

  beforeAll(async () => {
    app = await startApp();
    operator = await createUser(app, 'opal', 'operator');
  });

  afterAll(() => app.stop());

  it('bumps the version, publishes the whole document retained, and shows the delta', async () => {
    const { credentials } = await createDevice(app, 'thermo-9');
    const ws = await SocketClient.open(app, operator);
    ws.send('state.desired.set', {
      requestId: 's1',
      deviceId: 'thermo-9',
      patch: { setpoint: 21, mode: { eco: true, fan: 'auto' } },
    });
    await ws.waitFor((f) => f.some((x) => x.event === 'state.result'));
    expect(ws.frames[0]).toEqual({
      event: 'state.result',
      data: { requestId: 's1', deviceId: 'thermo-9', version: 1 },
    });

    // A device that connects later gets the retained document.
    const thermo = await connectDevice(app, credentials);
    const desired = new Promise<unknown>((resolve) =>
      thermo.once('message', (_t, payload) => resolve(JSON.parse(payload.toString()))),
    );
    await thermo.subscribeAsync('devices/thermo-9/state/desired', { qos: 1 });
    expect(await desired).toEqual({ version: 1, state: { setpoint: 21, mode: { eco: true, fan: 'auto' } } });

    const stream = new StreamRecorder(app, operator, '?devices=thermo-9&events=state');
    await stream.opened();
    await thermo.publishAsync(
      'devices/thermo-9/state/reported',
      JSON.stringify({ setpoint: 21, mode: { eco: false, fan: 'auto' }, fw: '1.2' }),
      { qos: 1 },
    );
    await stream.waitFor((e) => e.length === 1);
    expect(stream.events[0].data).toMatchObject({
      deviceId: 'thermo-9',
      reported: { setpoint: 21, fw: '1.2' },
      version: 1,
    });
    const state = await api<Record<string, unknown>>(app, operator, 'GET', '/devices/thermo-9/state');
    expect(state.body).toMatchObject({
      desired: { setpoint: 21, mode: { eco: true, fan: 'auto' } },
      reported: { setpoint: 21, mode: { eco: false, fan: 'auto' }, fw: '1.2' },
      delta: { mode: { eco: true } },
      version: 1,
    });

    // A merge patch that removes a key (null) and a stale If-Match.
    const patched = await fetch(`${app.url}/api/v1/devices/thermo-9/state/desired`, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${operator}`,
        'content-type': 'application/merge-patch+json',
        'if-match': '"1"',
      },
      body: JSON.stringify({ mode: null }),
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toEqual({ version: 2 });
    const stale = await fetch(`${app.url}/api/v1/devices/thermo-9/state/desired`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json', 'if-match': '1' },
      body: JSON.stringify({ setpoint: 25 }),
    });
    expect(stale.status).toBe(412);
    ws.send('state.desired.set', {
      requestId: 's2',
      deviceId: 'thermo-9',
      patch: { setpoint: 25 },
      expectedVersion: 1,
    });
    await ws.waitFor((f) => f.some((x) => x.data['requestId'] === 's2'));
    expect(ws.frames.find((x) => x.data['requestId'] === 's2')).toMatchObject({
      event: 'error',
      data: { code: 'conflict' },
    });
    stream.close();
    await ws.close();
    await thermo.endAsync();
  });

  it('refuses a reported state that is not an object, with a notice', async () => {
    const { credentials } = await createDevice(app, 'thermo-bad');
    const thermo = await connectDevice(app, credentials);
    await thermo.subscribeAsync('devices/thermo-bad/errors');
    const notice = new Promise<{ error: string }>((resolve) =>
      thermo.once('message', (_t, p) => resolve(JSON.parse(p.toString()))),
    );
    await thermo.publishAsync('devices/thermo-bad/state/reported', '[1,2]', { qos: 1 });
    expect((await notice).error).toMatch(/JSON object/);
    await thermo.endAsync();
  });

  it.each<[string, string, string, RegExp]>([
    ['not JSON', '{"status":', 'invalid_json', /not valid JSON/],
    ['not of the result form', '{"status":"done"}', 'invalid_command_result', /^status: /],
    ['for a command the device does not have', '{"status":"succeeded"}', 'unknown_command', /^no command nope for plug-/],
  ])('refuses a command result %s with a notice, counted as %s', async (_what, text, reason, error) => {
    const id = `plug-result-${reason.replace(/_/g, '-')}`;
    const { credentials } = await createDevice(app, id);
    const plug = await connectDevice(app, credentials);
    const next = await nextErrorNotice(plug, id);
    const before = await metric(app, `iot_messages_rejected_total{reason="${reason}"}`);
    const notice = next();
    const topic = `devices/${id}/commands/nope/result`;
    await plug.publishAsync(topic, text, { qos: 1 });
    expect(await notice).toMatchObject({ topic, error: expect.stringMatching(error) });
    expect(await metric(app, `iot_messages_rejected_total{reason="${reason}"}`)).toBe(before + 1);
    await plug.endAsync();
  });
});

describe('an api restart while a command is pending', () => {
  it('ends the command correctly after the restart', async () => {
    let app = await startApp();
    const { credentials } = await createDevice(app, 'restart-1');
    await createDevice(app, 'restart-2');
    const mute = await device(app, credentials, 'silent');
    const sent = await api<CommandAccepted>(app, app.adminToken, 'POST', '/devices/restart-1/commands', {
      name: 'reboot',
      timeoutMs: 1500,
    });
    const held = await api<CommandAccepted>(app, app.adminToken, 'POST', '/devices/restart-2/commands', {
      name: 'reboot',
    });
    expect([sent.body.status, held.body.status]).toEqual(['sent', 'pending']);
    mute.end(true);
    const dataDir = app.dataDir;
    await app.stop({ keepData: true });

    app = await startApp({}, dataDir);
    try {
      // The timeout is rebuilt from storage and fires after the restart.
      expect((await waitTerminal(app, sent.body.commandId)).status).toBe('timed-out');
      const first = await api<CommandWithHistoryView>(app, app.adminToken, 'GET', `/commands/${sent.body.commandId}`);
      expect(first.body.transitions.map((t) => t.status)).toEqual(['sent', 'timed-out']);
      // The held command is still delivered once its device comes.
      const creds = await api<DeviceCredentials>(app, app.adminToken, 'POST', '/devices/restart-2/credentials');
      const late = await device(app, creds.body);
      expect((await waitTerminal(app, held.body.commandId)).status).toBe('succeeded');
      await late.endAsync();
    } finally {
      await app.stop();
    }
  });
});

const TERMINAL = ['succeeded', 'failed', 'timed-out', 'expired', 'cancelled'];

/** Waits for a command's terminal status through the SSE stream (no polling). */
async function waitTerminal(app: TestApp, commandId: string): Promise<{ status: string }> {
  const stream = new StreamRecorder(app, app.adminToken, '?events=command');
  try {
    await stream.opened();
    // Opened first, then read: a transition is either in the answer or on the stream.
    const current = await api<CommandWithHistoryView>(app, app.adminToken, 'GET', `/commands/${commandId}`);
    if (TERMINAL.includes(current.body.status)) return current.body;
    const isFinal = (x: { data: Record<string, unknown> }) =>
      x.data['commandId'] === commandId && TERMINAL.includes(x.data['status'] as string);
    const events = await stream.waitFor((e) => e.some(isFinal));
    return { status: events.find(isFinal)!.data['status'] as string };
  } finally {
    stream.close();
  }
}
