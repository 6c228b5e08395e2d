import type { MqttClient } from 'mqtt';
import { api, answeringDevice, createDevice, startApp, type TestApp, until } from './harness';

interface BulkView {
  bulkId: string;
  target: string;
  items: Array<{ deviceId: string; commandId: string | null; status: string | null; error: string | null }>;
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
    await api(app, app.adminToken, 'POST', '/models', { id: 'bulk.lamp', version: 1, commands: { toggle: {} } });
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
});
