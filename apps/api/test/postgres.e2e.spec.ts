import type { CommandView, DeviceView } from '@iot/protocol';
import { postgresMissing, startPostgres, type TestPostgres } from './postgres';
import {
  StreamRecorder,
  type TestApp,
  api,
  connectDevice,
  createDevice,
  historyOf,
  startApp,
  answeringDevice,
} from './harness';

const missing = postgresMissing();
if (missing) console.warn(`PostgreSQL e2e skipped: ${missing}`);

(missing ? describe.skip : describe)('the api on PostgreSQL (DATABASE_URL)', () => {
  let postgres: TestPostgres;
  let databaseUrl: string;
  let app: TestApp;
  /** The id of pg-1's first telemetry event, to resume from after a restart. */
  let firstId = '';

  beforeAll(async () => {
    postgres = await startPostgres();
    databaseUrl = postgres.createDatabase('iot');
    app = await startApp({ DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: '4' });
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    postgres?.stop();
  });

  it('streams telemetry over SSE and answers latest values and history from PostgreSQL', async () => {
    const { credentials } = await createDevice(app, 'pg-1');
    const stream = new StreamRecorder(app, app.adminToken, '?devices=pg-1');
    await stream.opened();
    const client = await connectDevice(app, credentials);
    for (let n = 0; n < 20; n++) {
      await client.publishAsync('devices/pg-1/telemetry', JSON.stringify({ n, mode: n % 2 ? 'odd' : 'even' }), {
        qos: 1,
      });
    }
    await stream.waitFor((events) => events.filter((e) => e.type === 'telemetry').length === 20);
    expect(stream.of('telemetry').map((e) => (e.data['values'] as { n: number }).n)).toEqual([...Array(20).keys()]);
    expect(stream.of('status', 'pg-1')[0].data['online']).toBe(true);
    const ids = stream.events.map((e) => Number(e.id.split('-').pop()));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    firstId = stream.of('telemetry')[0].id;
    expect(await historyOf(app, 'pg-1', 'n')).toEqual([...Array(20).keys()]);
    const latest = await api(app, app.adminToken, 'GET', '/devices/pg-1/telemetry/latest');
    expect(latest.status).toBe(200);
    expect(JSON.stringify(latest.body)).toContain('"odd"');
    expect((await api<DeviceView>(app, app.adminToken, 'GET', '/devices/pg-1')).body.online).toBe(true);
    stream.close();
    await client.endAsync();
  });

  it('resumes a stream with Last-Event-ID: exactly the missed events, then live ones', async () => {
    const { credentials } = await createDevice(app, 'pg-2');
    const client = await connectDevice(app, credentials);
    const publish = async (from: number, to: number) => {
      for (let n = from; n < to; n++)
        await client.publishAsync('devices/pg-2/telemetry', JSON.stringify({ n }), { qos: 1 });
    };
    const query = '?devices=pg-2&events=telemetry';
    const first = new StreamRecorder(app, app.adminToken, query);
    await first.opened();
    await publish(0, 3);
    await first.waitFor((e) => e.length === 3);
    first.close();
    await publish(3, 1203);
    const second = new StreamRecorder(app, app.adminToken, query, first.events[2].id);
    await second.opened();
    await second.waitFor((e) => e.length === 1200, 15_000);
    await publish(1203, 1205);
    await second.waitFor((e) => e.length === 1202);
    expect(second.events.map((e) => (e.data['values'] as { n: number }).n)).toEqual(
      Array.from({ length: 1202 }, (_, i) => i + 3),
    );
    second.close();
    await client.endAsync();
  });

  it('takes a command round trip and keeps its transitions', async () => {
    const { credentials } = await createDevice(app, 'pg-3');
    const plug = await answeringDevice(app, credentials);
    const waited = await api<CommandView>(app, app.adminToken, 'POST', '/devices/pg-3/commands?wait=true', {
      name: 'relay.set',
      params: { on: true },
    });
    expect(waited.status).toBe(200);
    expect(waited.body).toMatchObject({ status: 'succeeded', result: { echo: { on: true } } });
    const one = await api<{ transitions: Array<{ status: string }> }>(
      app,
      app.adminToken,
      'GET',
      `/commands/${waited.body.commandId}`,
    );
    expect(one.body.transitions.map((t) => t.status)).toEqual(['sent', 'succeeded']);
    await plug.endAsync();
  });

  it('deletes a device with its history; one made again with the id starts empty', async () => {
    const { credentials } = await createDevice(app, 'pg-4');
    const stream = new StreamRecorder(app, app.adminToken, '?devices=pg-4&events=telemetry');
    await stream.opened();
    const client = await connectDevice(app, credentials);
    await client.publishAsync('devices/pg-4/telemetry', JSON.stringify({ t: 1 }), { qos: 1 });
    // An event reaches the stream once it is stored.
    await stream.waitFor((e) => e.length === 1);
    stream.close();
    expect(await historyOf(app, 'pg-4', 't')).toEqual([1]);
    expect((await api(app, app.adminToken, 'DELETE', '/devices/pg-4')).status).toBe(204);
    await client.endAsync().catch(() => undefined);
    expect((await api(app, app.adminToken, 'GET', '/devices/pg-4')).status).toBe(404);
    await createDevice(app, 'pg-4');
    expect(await historyOf(app, 'pg-4', 't')).toEqual([]);
  });

  it('keeps everything across a restart of the api on the same database, event ids included', async () => {
    await app.stop();
    app = await startApp({ DATABASE_URL: databaseUrl });
    expect(await historyOf(app, 'pg-1', 'n')).toEqual([...Array(20).keys()]);
    // The epoch lives in the database: an id given before the restart resumes after it.
    const replay = new StreamRecorder(app, app.adminToken, '?devices=pg-1&events=telemetry', firstId);
    await replay.opened();
    await replay.waitFor((e) => e.length === 19);
    expect(replay.of('reset')).toEqual([]);
    expect(replay.events.map((e) => (e.data['values'] as { n: number }).n)).toEqual(
      Array.from({ length: 19 }, (_, i) => i + 1),
    );
    replay.close();
  });

  it('reports the database not ready while PostgreSQL is down, and stores what devices sent meanwhile once it is back', async () => {
    const { credentials } = await createDevice(app, 'pg-5');
    const client = await connectDevice(app, credentials);
    const stream = new StreamRecorder(app, app.adminToken, '?devices=pg-5&events=telemetry');
    await stream.opened();
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
    postgres.down();
    let published: Promise<unknown> | undefined;
    try {
      const down = await fetch(`${app.url}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.text()).toContain('database: PostgreSQL does not answer');
      // QoS 1: acknowledged once stored, so not while PostgreSQL is down.
      published = client.publishAsync('devices/pg-5/telemetry', JSON.stringify({ n: 1 }), { qos: 1 });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(stream.events).toEqual([]);
    } finally {
      postgres.up();
    }
    await published;
    await stream.waitFor((e) => e.length === 1, 20_000);
    expect(await historyOf(app, 'pg-5', 'n')).toEqual([1]);
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
    stream.close();
    await client.endAsync();
  }, 40_000);
});
