import type { MqttClient } from 'mqtt';
import type {
  AlarmListResponse,
  AlarmRuleView,
  BulkCommandView,
  CommandAccepted,
  DeviceListResponse,
  UserView,
} from '@iot/protocol';
import { api, answeringDevice, createDevice, login, startApp, StreamRecorder, type TestApp } from './harness';
import { SocketClient } from './socket-client';

/** A site's operator, limited to `site=a`, against devices of sites a and b: every edge shows them only site a. */
describe('user scopes (e2e)', () => {
  let app: TestApp;
  let sam: string;
  const devices = new Map<string, MqttClient>();
  const streams: StreamRecorder[] = [];
  const sockets: SocketClient[] = [];
  const SAM = { username: 'sam', password: 'sam-password-1234' };

  const stream = (token: string, lastEventId?: string) => {
    const recorder = new StreamRecorder(app, token, '', lastEventId);
    streams.push(recorder);
    return recorder;
  };
  const publish = (id: string, values: Record<string, number>) =>
    devices.get(id)!.publishAsync(`devices/${id}/telemetry`, JSON.stringify(values), { qos: 1 });
  const deviceIdsOf = (recorder: StreamRecorder) => [...new Set(recorder.events.map((e) => e.data['deviceId']))];

  beforeAll(async () => {
    app = await startApp();
    for (const [id, site] of [
      ['in-a', 'a'],
      ['in-a2', 'a'],
      ['out-b', 'b'],
    ]) {
      const { credentials } = await createDevice(app, id);
      await api(app, app.adminToken, 'PATCH', `/devices/${id}`, { labels: { site, kind: 't' } });
      devices.set(id, await answeringDevice(app, credentials));
    }
    const created = await api<UserView>(app, app.adminToken, 'POST', '/users', {
      ...SAM,
      role: 'operator',
      scope: 'site=a',
    });
    expect(created.body).toEqual({ username: 'sam', role: 'operator', scope: 'site=a' });
    sam = (await login(app.url, SAM.username, SAM.password)).accessToken;
  });

  afterEach(() => {
    for (const recorder of streams.splice(0)) recorder.close();
    for (const socket of sockets.splice(0)) socket.socket.close();
  });

  afterAll(async () => {
    for (const client of devices.values()) await client.endAsync();
    await app?.stop();
  });

  it('shows the scope in the user views, and refuses a scope that is no selector', async () => {
    const users = await api<UserView[]>(app, app.adminToken, 'GET', '/users');
    expect(users.body.find((u) => u.username === 'sam')).toEqual({
      username: 'sam',
      role: 'operator',
      scope: 'site=a',
    });
    expect(users.body.find((u) => u.username === 'admin')?.scope).toBeNull();
    expect((await api<UserView>(app, sam, 'GET', '/auth/me')).body).toEqual({
      username: 'sam',
      role: 'operator',
      scope: 'site=a',
    });
    expect((await api(app, app.adminToken, 'PATCH', '/users/sam', { scope: 'site' })).status).toBe(400);
  });

  it('answers REST requests for devices outside the scope exactly as for unknown ones, and lists only those inside', async () => {
    const list = await api<DeviceListResponse>(app, sam, 'GET', '/devices');
    expect(list.body.items.map((d) => d.id)).toEqual(['in-a', 'in-a2']);
    expect((await api<DeviceListResponse>(app, sam, 'GET', '/devices?labels=site%3Db')).body.items).toEqual([]);
    expect(
      (await api<DeviceListResponse>(app, sam, 'GET', '/devices?labels=kind%3Dt')).body.items.map((d) => d.id),
    ).toEqual(['in-a', 'in-a2']);
    expect((await api<DeviceListResponse>(app, app.adminToken, 'GET', '/devices')).body.items).toHaveLength(3);

    for (const path of ['', '/state', '/telemetry/latest', '/telemetry?keys=t', '/commands', '/model']) {
      const outside = await api(app, sam, 'GET', `/devices/out-b${path}`);
      const unknown = await api(app, sam, 'GET', `/devices/nope${path}`);
      expect([path, outside.status]).toEqual([path, 404]);
      expect(outside.body).toEqual(
        JSON.parse(JSON.stringify(unknown.body).replaceAll('nope', 'out-b')) as Record<string, unknown>,
      );
      expect([path, (await api(app, sam, 'GET', `/devices/in-a${path}`)).status]).not.toEqual([path, 404]);
    }
    expect((await api(app, sam, 'POST', '/devices/out-b/commands', { name: 'reboot' })).status).toBe(404);
    expect((await api(app, sam, 'PATCH', '/devices/out-b/state/desired', { on: true })).status).toBe(404);
    expect((await api(app, sam, 'POST', '/devices/in-a/commands', { name: 'reboot' })).status).toBe(202);

    const theirs = await api<CommandAccepted>(app, app.adminToken, 'POST', '/devices/out-b/commands', {
      name: 'reboot',
    });
    const read = await api<{ message: string }>(app, sam, 'GET', `/commands/${theirs.body.commandId}`);
    expect(read).toEqual({
      status: 404,
      body: expect.objectContaining({ message: `no command ${theirs.body.commandId}` }),
    });
    expect((await api(app, sam, 'POST', `/commands/${theirs.body.commandId}/cancel`)).status).toBe(404);
    expect((await api(app, app.adminToken, 'GET', `/commands/${theirs.body.commandId}`)).status).toBe(200);
  });

  it('never streams an event of a device outside the scope, live or on resume (Last-Event-ID)', async () => {
    const everything = stream(app.adminToken);
    const live = stream(sam);
    await Promise.all([everything.opened(), live.opened()]);
    await publish('in-a', { n: 0 });
    const [marker] = await everything.waitFor(() => everything.of('telemetry').length >= 1);
    await publish('out-b', { n: 1 });
    await publish('in-a', { n: 2 });
    await everything.waitFor(() => everything.of('telemetry').length >= 3);
    // In log order: once in-a's n=2 is here, out-b's n=1 would have come before it.
    const hasTwo = (recorder: StreamRecorder) =>
      recorder.of('telemetry', 'in-a').some((e) => (e.data['values'] as { n?: number }).n === 2);
    await live.waitFor(() => hasTwo(live));
    expect(everything.of('telemetry', 'out-b')).toHaveLength(1);
    expect(deviceIdsOf(live)).toEqual(['in-a']);

    const resumed = stream(sam, marker.id);
    await resumed.opened();
    await resumed.waitFor(() => hasTwo(resumed));
    expect(resumed.of('telemetry').length).toBeGreaterThan(0);
    expect(deviceIdsOf(resumed)).toEqual(['in-a']);
  });

  it('answers a WebSocket command or desired state for a device outside the scope not_found, with its requestId', async () => {
    const socket = await SocketClient.open(app, sam);
    sockets.push(socket);
    socket.send('command.send', { requestId: 'r1', deviceId: 'out-b', name: 'reboot' });
    socket.send('state.desired.set', { requestId: 'r2', deviceId: 'out-b', patch: { on: true } });
    socket.send('command.send', { requestId: 'r3', deviceId: 'in-a', name: 'reboot' });
    await socket.waitFor(
      () => ['r1', 'r2'].every((id) => socket.replies(id).length > 0) && socket.statuses('r3').length > 0,
    );
    expect(socket.replies('r1')).toEqual([
      { event: 'error', data: { requestId: 'r1', code: 'not_found', message: 'no device out-b' } },
    ]);
    expect(socket.replies('r2')).toEqual([
      { event: 'error', data: { requestId: 'r2', code: 'not_found', message: 'no device out-b' } },
    ]);
    expect(socket.statuses('r3')[0]).not.toBe('failed');
  });

  it('narrows a bulk to the scope: a selector is ANDed with it, listed devices outside are refused as unknown', async () => {
    const bySelector = await api<BulkCommandView>(app, sam, 'POST', '/commands/bulk', {
      labels: 'kind=t',
      name: 'reboot',
    });
    expect(bySelector.status).toBe(201);
    expect(bySelector.body.target).toBe('labels kind=t,site=a');
    expect(bySelector.body.items.map((i) => [i.deviceId, i.error])).toEqual([
      ['in-a', null],
      ['in-a2', null],
    ]);
    expect((await api(app, sam, 'POST', '/commands/bulk', { labels: 'site=b', name: 'reboot' })).status).toBe(400);

    const byList = await api<BulkCommandView>(app, sam, 'POST', '/state/bulk', {
      devices: ['in-a', 'out-b', 'nope'],
      desired: { on: true },
    });
    expect(byList.body.items.map((i) => [i.deviceId, i.error])).toEqual([
      ['in-a', null],
      ['out-b', 'no device out-b'],
      ['nope', 'no device nope'],
    ]);
    expect((await api<{ desired: unknown }>(app, app.adminToken, 'GET', '/devices/out-b/state')).body.desired).toEqual(
      {},
    );

    // A bulk someone else sent shows a scoped user only its devices in the scope.
    const admins = await api<BulkCommandView>(app, app.adminToken, 'POST', '/commands/bulk', {
      labels: 'kind=t',
      name: 'reboot',
    });
    expect(admins.body.items).toHaveLength(3);
    const seen = await api<BulkCommandView>(app, sam, 'GET', `/commands/bulk/${admins.body.bulkId}`);
    expect(seen.body.items.map((i) => i.deviceId)).toEqual(['in-a', 'in-a2']);
  });

  it('shows alarms and rules only within the scope, and ANDs the scope into a label rule of its own', async () => {
    const condition = { kind: 'above', key: 'temp', threshold: 50, hysteresis: 0, forMs: 0 };
    const fleet = await api<AlarmRuleView>(app, app.adminToken, 'POST', '/alarm-rules', {
      name: 'hot',
      severity: 'major',
      target: { labels: 'kind=t' },
      condition,
    });
    expect(fleet.status).toBe(201);
    const everything = stream(app.adminToken);
    await everything.opened();
    await publish('out-b', { temp: 60 });
    await publish('in-a', { temp: 60 });
    await everything.waitFor(() => everything.of('alarm').length >= 2);

    const alarms = await api<AlarmListResponse>(app, sam, 'GET', '/alarms');
    expect(alarms.body.items.map((a) => a.deviceId)).toEqual(['in-a']);
    expect((await api<AlarmListResponse>(app, app.adminToken, 'GET', '/alarms')).body.items).toHaveLength(2);
    const outside = everything.of('alarm', 'out-b')[0].data['alarmId'] as string;
    expect((await api(app, sam, 'GET', `/alarms/${outside}`)).status).toBe(404);
    expect((await api(app, sam, 'POST', `/alarms/${outside}/acknowledge`)).status).toBe(404);
    expect((await api(app, sam, 'POST', `/alarms/${outside}/clear`)).status).toBe(404);
    expect((await api<{ status: string }>(app, app.adminToken, 'GET', `/alarms/${outside}`)).body.status).toBe(
      'raised',
    );

    expect((await api<{ items: AlarmRuleView[] }>(app, sam, 'GET', '/alarm-rules')).body.items).toEqual([]);
    expect((await api(app, sam, 'GET', `/alarm-rules/${fleet.body.id}`)).status).toBe(404);
    expect((await api(app, sam, 'DELETE', `/alarm-rules/${fleet.body.id}`)).status).toBe(404);
    const own = await api<AlarmRuleView>(app, sam, 'POST', '/alarm-rules', {
      name: 'mine',
      severity: 'minor',
      target: { labels: 'kind=t' },
      condition,
    });
    expect(own.body.target).toEqual({ labels: 'kind=t,site=a' });
    expect(
      (await api<{ items: AlarmRuleView[] }>(app, sam, 'GET', '/alarm-rules')).body.items.map((r) => r.id),
    ).toEqual([own.body.id]);
    const rule = (target: unknown) => ({ name: 'x', severity: 'minor', target, condition });
    expect((await api(app, sam, 'POST', '/alarm-rules', rule({ deviceId: 'out-b' }))).status).toBe(404);
    expect((await api(app, sam, 'POST', '/alarm-rules', rule({ modelId: 'any' }))).status).toBe(400);
    expect((await api(app, sam, 'POST', '/alarm-rules', rule({ labels: 'site=b' }))).status).toBe(400);
  });

  it('stops streaming a device relabelled out of the scope, and starts one relabelled into it', async () => {
    const everything = stream(app.adminToken);
    const live = stream(sam);
    await Promise.all([everything.opened(), live.opened()]);
    await api(app, app.adminToken, 'PATCH', '/devices/in-a2', { labels: { site: 'c' } });
    await api(app, app.adminToken, 'PATCH', '/devices/out-b', { labels: { site: 'a' } });
    await publish('in-a2', { m: 1 });
    await publish('out-b', { m: 2 });
    await everything.waitFor(() => everything.of('telemetry').length >= 2);
    await live.waitFor(() => live.of('telemetry', 'out-b').length >= 1);
    expect(live.of('telemetry', 'in-a2')).toEqual([]);
    expect((await api(app, sam, 'GET', '/devices/in-a2')).status).toBe(404);
    expect((await api(app, sam, 'GET', '/devices/out-b')).status).toBe(200);
  });

  it("ends the user's sessions when the scope changes, and audits the change", async () => {
    const live = stream(sam);
    await live.opened();
    const closed = new Promise<void>((resolve) =>
      live.source.addEventListener('error', () => resolve(), { once: true }),
    );
    const changed = await api<UserView>(app, app.adminToken, 'PATCH', '/users/sam', { scope: 'site=b' });
    expect(changed.body).toEqual({ username: 'sam', role: 'operator', scope: 'site=b' });
    expect((await api(app, sam, 'GET', '/devices')).status).toBe(401);
    await closed;
    const again = (await login(app.url, SAM.username, SAM.password)).accessToken;
    expect((await api<DeviceListResponse>(app, again, 'GET', '/devices')).body.items.map((d) => d.id)).toEqual([]);
    const audit = await api<{ items: Array<{ action: string; target: string; detail: string }> }>(
      app,
      app.adminToken,
      'GET',
      '/audit?action=user.update',
    );
    expect(audit.body.items[0]).toMatchObject({ target: 'sam', detail: 'scope site=b' });

    await api(app, app.adminToken, 'PATCH', '/users/sam', { scope: null });
    const unlimited = (await login(app.url, SAM.username, SAM.password)).accessToken;
    expect((await api<DeviceListResponse>(app, unlimited, 'GET', '/devices')).body.items).toHaveLength(3);
  });
});
