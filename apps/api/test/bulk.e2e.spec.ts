import type { MqttClient } from 'mqtt';
import { api, answeringDevice, createDevice, createUser, startApp, type TestApp, until } from './harness';

interface BulkView {
  bulkId: string;
  kind: string;
  name: string;
  target: string;
  items: Array<{
    deviceId: string;
    commandId: string | null;
    status: string | null;
    version: number | null;
    error: string | null;
  }>;
  counts: Record<string, number>;
}

describe('bulk commands (e2e)', () => {
  let app: TestApp;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    app = await startApp();
    for (const [id, site] of [
      ['bulk-1', 'a'],
      ['bulk-2', 'a'],
      ['bulk-3', 'b'],
    ]) {
      const { credentials } = await createDevice(app, id);
      await api(app, app.adminToken, 'PATCH', `/devices/${id}`, { labels: { site } });
      clients.push(await answeringDevice(app, credentials));
    }
    await createDevice(app, 'bulk-4');
    await api(app, app.adminToken, 'PATCH', '/devices/bulk-4', { labels: { site: 'a' } });
    // bulk-4 has a model without the command: its command is refused, the others go out.
    await api(app, app.adminToken, 'POST', '/models', {
      id: 'bulk.lamp',
      version: 1,
      commands: { toggle: {} },
      desired: { level: { type: 'integer' } },
    });
    await api(app, app.adminToken, 'PUT', '/devices/bulk-4/model', { model: { id: 'bulk.lamp', version: 1 } });
  });

  afterAll(async () => {
    for (const client of clients) await client.endAsync();
    await app.stop();
  });

  it('sends one command to each device a label selector matches, each with its own lifecycle', async () => {
    const sent = await api<BulkView>(app, app.adminToken, 'POST', '/commands/bulk', {
      labels: 'site=a',
      name: 'reboot',
    });
    expect(sent.status).toBe(201);
    expect(sent.body.target).toBe('labels site=a');
    expect(sent.body.items.map((i) => [i.deviceId, i.commandId !== null, i.error])).toEqual([
      ['bulk-1', true, null],
      ['bulk-2', true, null],
      ['bulk-4', false, 'name: the model bulk.lamp version 1 has no command reboot'],
    ]);

    const read = () => api<BulkView>(app, app.adminToken, 'GET', `/commands/bulk/${sent.body.bulkId}`);
    await until(async () => (await read()).body.counts['succeeded'] === 2, 'both commands succeeded');
    expect((await read()).body.counts).toEqual({ succeeded: 2, refused: 1 });
    const audit = await api<{ items: Array<{ action: string; target: string; detail: string }> }>(
      app,
      app.adminToken,
      'GET',
      '/audit?action=command.bulk',
    );
    expect(audit.body.items[0]).toMatchObject({ target: sent.body.bulkId, detail: 'reboot site=a 3 devices' });
  });

  it('sends to a list of devices, and refuses what matches nothing or both ways at once', async () => {
    const sent = await api<BulkView>(app, app.adminToken, 'POST', '/commands/bulk', {
      devices: ['bulk-3', 'bulk-3', 'nope'],
      name: 'reboot',
    });
    expect(sent.body.items.map((i) => [i.deviceId, i.error])).toEqual([
      ['bulk-3', null],
      ['nope', 'no device nope'],
    ]);
    expect(
      (await api(app, app.adminToken, 'POST', '/commands/bulk', { labels: 'site=z', name: 'reboot' })).status,
    ).toBe(400);
    expect(
      (await api(app, app.adminToken, 'POST', '/commands/bulk', { labels: 'site=a', devices: ['bulk-1'], name: 'x' }))
        .status,
    ).toBe(400);
    expect((await api(app, app.adminToken, 'GET', '/commands/bulk/not-an-id')).status).toBe(404);
  });

  it('patches the desired state of each device a label selector matches, refusals kept per device', async () => {
    const sent = await api<BulkView>(app, app.adminToken, 'POST', '/state/bulk', {
      labels: 'site=a',
      desired: { fan: 3 },
    });
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ kind: 'desired', name: 'fan', target: 'labels site=a' });
    expect(sent.body.items.map((i) => [i.deviceId, i.status, i.version, i.error])).toEqual([
      ['bulk-1', 'succeeded', 1, null],
      ['bulk-2', 'succeeded', 1, null],
      ['bulk-4', null, null, 'desired.fan: the model bulk.lamp version 1 has no such property'],
    ]);
    expect(sent.body.counts).toEqual({ succeeded: 2, refused: 1 });
    // Each patch went the single path: a new desired version on the device.
    const state = await api<{ desired: unknown; version: number }>(app, app.adminToken, 'GET', '/devices/bulk-2/state');
    expect(state.body).toMatchObject({ desired: { fan: 3 }, version: 1 });
    // Read back from either bulk path.
    for (const path of [`/state/bulk/${sent.body.bulkId}`, `/commands/bulk/${sent.body.bulkId}`]) {
      const read = await api<BulkView>(app, app.adminToken, 'GET', path);
      expect(read.body).toEqual(sent.body);
    }
    const audit = await api<{ items: Array<{ action: string; target: string; detail: string; outcome: string }> }>(
      app,
      app.adminToken,
      'GET',
      '/audit?action=state.bulk',
    );
    expect(audit.body.items[0]).toMatchObject({
      target: sent.body.bulkId,
      detail: 'fan site=a 3 devices',
      outcome: 'ok',
    });
  });

  it('refuses a bulk patch that is no merge patch, or that no device could take, once for all', async () => {
    const post = (body: unknown) => api(app, app.adminToken, 'POST', '/state/bulk', body);
    expect((await post({ devices: ['bulk-1'], desired: [1] })).status).toBe(400);
    expect((await post({ devices: ['bulk-1'] })).status).toBe(400);
    expect((await post({ devices: ['bulk-1'], labels: 'site=a', desired: {} })).status).toBe(400);
    expect((await post({ labels: 'site=z', desired: { fan: 1 } })).status).toBe(400);
    const proto = await post(JSON.parse('{"devices":["bulk-1"],"desired":{"__proto__":{"x":1}}}'));
    expect(proto.status).toBe(400);
    expect((await api<{ desired: unknown }>(app, app.adminToken, 'GET', '/devices/bulk-1/state')).body.desired).toEqual({
      fan: 3,
    });
    const viewer = await createUser(app, 'bulk-viewer', 'viewer');
    expect((await api(app, viewer, 'POST', '/state/bulk', { devices: ['bulk-1'], desired: {} })).status).toBe(403);
  });

  it('lists the fleet by model, each device with its model', async () => {
    const list = await api<{ items: Array<{ id: string; model: unknown }> }>(
      app,
      app.adminToken,
      'GET',
      '/devices?model=bulk.lamp',
    );
    expect(list.body.items.map((d) => [d.id, d.model])).toEqual([['bulk-4', { id: 'bulk.lamp', version: 1 }]]);
    const all = await api<{ items: Array<{ id: string; model: unknown }> }>(app, app.adminToken, 'GET', '/devices');
    expect(all.body.items.find((d) => d.id === 'bulk-1')?.model).toBeNull();
    expect((await api(app, app.adminToken, 'GET', '/devices?model=Not%20A%20Model')).status).toBe(400);
  });
});
