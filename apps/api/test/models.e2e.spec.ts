import type { MqttClient } from 'mqtt';
import type { DeviceModel } from '@iot/protocol';
import {
  api,
  answeringDevice,
  connectDevice,
  createDevice,
  historyOf,
  metric,
  nextErrorNotice,
  startApp,
  StreamRecorder,
  type TestApp,
  until,
  within,
} from './harness';
import { SocketClient } from './socket-client';

const thermostat: DeviceModel = {
  id: 'acme.thermostat',
  version: 1,
  title: 'Thermostat',
  telemetry: { temperature: { type: 'number', unit: '°C', precision: 1 } },
  commands: {
    'setpoint.set': {
      title: 'Set the setpoint',
      params: {
        type: 'object',
        properties: { value: { type: 'number', minimum: 5, maximum: 30 } },
        required: ['value'],
        additionalProperties: false,
      },
    },
    reboot: { timeoutMs: 45_000 },
  },
  desired: {
    setpoint: { type: 'number', minimum: 5, maximum: 30 },
    mode: { type: 'string', enum: ['eco', 'comfort'] },
  },
};

describe('device models (e2e, embedded broker)', () => {
  let app: TestApp;
  let device: MqttClient;
  const clients: MqttClient[] = [];
  const streams: StreamRecorder[] = [];

  beforeAll(async () => {
    app = await startApp();
    const { credentials } = await createDevice(app, 'th-1');
    device = await answeringDevice(app, credentials);
    clients.push(device);
  });

  afterEach(() => {
    for (const stream of streams.splice(0)) stream.close();
  });

  afterAll(async () => {
    for (const client of clients) await client.endAsync();
    await app.stop();
  });

  const modelOf = async (id: string) =>
    (await api<{ model: DeviceModel | null }>(app, app.adminToken, 'GET', `/devices/${id}/model`)).body.model;

  const send = (id: string, body: unknown) =>
    api<{ error?: string; message?: string }>(app, app.adminToken, 'POST', `/devices/${id}/commands`, body);

  it('takes the model a device announces on devices/{id}/model, into the catalogue and onto the device', async () => {
    expect(await modelOf('th-1')).toBeNull();
    await device.publishAsync('devices/th-1/model', JSON.stringify(thermostat), { qos: 1 });

    await until(async () => (await modelOf('th-1')) !== null, 'the announced model');
    expect(await modelOf('th-1')).toEqual(thermostat);
    const list = await api<{ items: unknown[] }>(app, app.adminToken, 'GET', '/models');
    expect(list.body.items).toEqual([{ id: 'acme.thermostat', version: 1, title: 'Thermostat', versions: 1 }]);
  });

  it('refuses a command the model does not have, or with params that do not fit, before it reaches the device', async () => {
    const sent: string[] = [];
    device.on('message', (topic) => sent.push(topic));

    const unknown = await send('th-1', { name: 'selfdestruct' });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain('has no command selfdestruct');

    const misfit = await send('th-1', { name: 'setpoint.set', params: { value: 99 } });
    expect(misfit.status).toBe(400);
    expect(JSON.stringify(misfit.body)).toContain('params.value: must be <= 30');

    const extra = await send('th-1', { name: 'setpoint.set', params: { value: 20, boost: true } });
    expect(extra.status).toBe(400);
    expect(JSON.stringify(extra.body)).toContain('boost');

    const fits = await api<{ status: string; timeoutMs: number }>(
      app,
      app.adminToken,
      'POST',
      '/devices/th-1/commands?wait=true',
      {
        name: 'setpoint.set',
        params: { value: 21.5 },
      },
    );
    expect([fits.status, fits.body.status]).toEqual([200, 'succeeded']);
    expect((await send('th-1', { name: 'reboot' })).status).toBe(202);
    expect(sent.filter((t) => t.startsWith('devices/th-1/commands/'))).toHaveLength(2);
  });

  it('refuses a misfit command over the WebSocket too, with the request id and the path that is wrong', async () => {
    const ws = await SocketClient.open(app, app.adminToken);
    try {
      ws.send('command.send', { requestId: 'm1', deviceId: 'th-1', name: 'setpoint.set', params: { value: 'warm' } });
      const frames = await ws.waitFor((all) => all.some((f) => f.event === 'error'));
      expect(frames.find((f) => f.event === 'error')?.data).toMatchObject({
        requestId: 'm1',
        code: 'bad_request',
        message: expect.stringContaining('params.value: must be number'),
      });
    } finally {
      ws.socket.close();
    }
  });

  it('refuses a desired-state patch that does not fit, and makes no new version for an identical one', async () => {
    const patch = (body: unknown) =>
      api<{ version?: number }>(app, app.adminToken, 'PATCH', '/devices/th-1/state/desired', body);
    expect((await patch({ setpoint: 40 })).status).toBe(400);
    expect((await patch({ colour: 'red' })).status).toBe(400);
    const first = await patch({ setpoint: 20, mode: 'eco' });
    expect(first.status).toBe(200);
    expect((await patch({ setpoint: 20 })).body.version).toBe(first.body.version);
    expect((await patch({ mode: 'comfort' })).body.version).toBe((first.body.version ?? 0) + 1);
  });

  it("stores telemetry that does not fit the model, flags it on the stream and counts it on the device's model", async () => {
    const stream = new StreamRecorder(app, app.adminToken, '?devices=th-1&events=telemetry');
    streams.push(stream);
    await stream.opened();
    await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ temperature: 21.5 }), { qos: 1 });
    await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ temperature: 'warm' }), { qos: 1 });
    const events = await stream.waitFor((all) => all.length >= 2);

    expect(events.map((e) => e.data)).toEqual([
      { deviceId: 'th-1', ts: expect.any(Number), values: { temperature: 21.5 } },
      { deviceId: 'th-1', ts: expect.any(Number), misfits: ['temperature'], values: { temperature: 'warm' } },
    ]);
    expect(await historyOf(app, 'th-1', 'temperature')).toEqual([21.5, 'warm']);
    const view = await api<{ misfits: unknown }>(app, app.adminToken, 'GET', '/devices/th-1/model');
    expect(view.body.misfits).toEqual({
      temperature: { count: 1, ts: expect.any(Number), value: 'warm', problem: 'not a number' },
    });
    expect(await metric(app, 'iot_telemetry_misfits_total')).toBe(1);
  });

  it('tells a device whose announced model conflicts with the catalogue, and keeps the model it had', async () => {
    await device.publishAsync('devices/th-1/model', JSON.stringify(thermostat), { qos: 1 });
    await until(async () => (await modelOf('th-1')) !== null, 'the announced model');
    const conflict = (await nextErrorNotice(device, 'th-1'))();
    await device.publishAsync('devices/th-1/model', JSON.stringify({ ...thermostat, title: 'Changed' }), { qos: 1 });
    const notice = await within(conflict, 5_000, 'an error notice');
    expect(notice).toMatchObject({ topic: 'devices/th-1/model', error: expect.stringContaining('higher version') });
    expect((await modelOf('th-1'))?.title).toBe('Thermostat');

    const bad = (await nextErrorNotice(device, 'th-1'))();
    await device.publishAsync(
      'devices/th-1/model',
      JSON.stringify({ id: 'x', version: 1, desired: { p: { type: 'string', pattern: '(a+)+$' } } }),
      { qos: 1 },
    );
    expect((await within(bad, 5_000, 'an error notice')).error).toMatch(/^model: desired\.p/);
  });

  it('lets a long-running command report progress and ask for longer; the stream and the command show it', async () => {
    const { credentials } = await createDevice(app, 'fw-1');
    const fw = await connectDevice(app, credentials);
    clients.push(fw);
    await fw.subscribeAsync('devices/fw-1/commands/+', { qos: 1 });
    const received = new Promise<string>((resolve) => fw.on('message', (topic) => resolve(topic.split('/')[3])));
    const stream = new StreamRecorder(app, app.adminToken, '?devices=fw-1&events=command');
    streams.push(stream);
    await stream.opened();

    const sent = await send('fw-1', { name: 'firmware.update', timeoutMs: 1_000 });
    const commandId = await within(received, 5_000, 'the command');
    expect(commandId).toBe((sent.body as { commandId?: string }).commandId);
    const result = `devices/fw-1/commands/${commandId}/result`;
    await fw.publishAsync(result, JSON.stringify({ status: 'in-progress', progress: 40, timeoutMs: 600_000 }), {
      qos: 1,
    });
    await stream.waitFor((events) => events.some((e) => e.data['progress'] === 40));

    const view = await api<{ status: string; progress: number; timeoutMs: number }>(
      app,
      app.adminToken,
      'GET',
      `/commands/${commandId}`,
    );
    expect(view.body).toMatchObject({ status: 'in-progress', progress: 40 });
    expect(view.body.timeoutMs).toBeGreaterThanOrEqual(600_000);
    await fw.publishAsync(result, JSON.stringify({ status: 'succeeded' }), { qos: 1 });
    await stream.waitFor((events) => events.some((e) => e.data['status'] === 'succeeded'));
    expect(stream.events.map((e) => e.data['status'])).toEqual(['sent', 'in-progress', 'succeeded']);
  });

  it('lets an admin add a model version and assign it; a device without a model takes any command as before', async () => {
    const v2 = { ...thermostat, version: 2, commands: { ...thermostat.commands, selfdestruct: {} } };
    expect((await api(app, app.adminToken, 'POST', '/models', v2)).status).toBe(201);
    expect((await api(app, app.adminToken, 'POST', '/models', v2)).status).toBe(200);
    expect((await api(app, app.adminToken, 'POST', '/models', { ...v2, title: 'Other' })).status).toBe(409);
    expect((await api(app, app.adminToken, 'GET', '/models/acme.thermostat/versions')).body).toEqual({
      versions: [2, 1],
    });

    const { credentials } = await createDevice(app, 'plain-1');
    clients.push(await connectDevice(app, credentials));
    expect((await send('plain-1', { name: 'anything', params: { at: 'all' } })).status).toBe(202);

    expect(
      (
        await api(app, app.adminToken, 'PUT', '/devices/plain-1/model', {
          model: { id: 'acme.thermostat', version: 2 },
        })
      ).status,
    ).toBe(200);
    expect((await send('plain-1', { name: 'anything' })).status).toBe(400);
    expect((await send('plain-1', { name: 'selfdestruct' })).status).toBe(202);
    expect(
      (
        await api(app, app.adminToken, 'PUT', '/devices/plain-1/model', {
          model: { id: 'acme.thermostat', version: 9 },
        })
      ).status,
    ).toBe(404);
    expect((await api(app, app.adminToken, 'PUT', '/devices/ghost/model', { model: null })).status).toBe(404);
    expect((await api(app, app.adminToken, 'PUT', '/devices/plain-1/model', { model: null })).status).toBe(200);
    expect((await send('plain-1', { name: 'anything' })).status).toBe(202);
  });
});
