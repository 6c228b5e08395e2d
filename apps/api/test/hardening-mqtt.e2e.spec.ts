import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { generate, parser as packetParser, type Packet } from 'mqtt-packet';
import { EventRepository } from '../src/domain/events';
import {
  StreamRecorder,
  type TestApp,
  api,
  connectDevice,
  createDevice,
  historyOf,
  metric,
  startApp,
  within,
} from './harness';

/** The CONNACK return code a CONNECT gets (0 accepted), with MQTT.js. */
async function connackCode(app: Pick<TestApp, 'mqttUrl'>, id: string, password: string): Promise<number> {
  try {
    const client = await connectDevice(app, { username: id, password });
    await client.endAsync(true);
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

/** A telemetry batch of about `bytes` bytes, its first entry marked with `i`. */
function bigBatch(i: number, bytes: number): string {
  const entry = JSON.stringify({ s: 'x'.repeat(240) });
  const entries = [
    JSON.stringify({ i }),
    ...Array.from({ length: Math.ceil(bytes / (entry.length + 1)) }, () => entry),
  ];
  return `[${entries.join(',')}]`;
}

/** Sends `ping` to an offline device: it is held (`pending`) until the device can receive it. */
async function sendHeldPing(app: TestApp, id: string): Promise<{ body: { commandId: string; status: string } }> {
  const sent = await api<{ commandId: string; status: string }>(
    app,
    app.adminToken,
    'POST',
    `/devices/${id}/commands`,
    {
      name: 'ping',
    },
  );
  expect(sent.body.status).toBe('pending');
  return sent;
}

describe('MQTT hardening: a PUBACK means stored', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp();
  });

  afterAll(async () => {
    await app.stop();
  });

  it('acknowledges a QoS 1 publish only once its event is readable from history, even with slow storage', async () => {
    const { credentials } = await createDevice(app, 'ack-1');
    // Every commit takes 100 ms longer: a PUBACK sent before the commit would be seen before the data.
    const storage = app.app.get(EventRepository);
    const append = storage.append.bind(storage);
    storage.append = (events) => new Promise((done) => setTimeout(done, 100)).then(() => append(events));
    const device = await connectDevice(app, credentials);
    try {
      for (let n = 1; n <= 5; n++) {
        await device.publishAsync('devices/ack-1/telemetry', JSON.stringify({ n }), { qos: 1 });
        expect(await historyOf(app, 'ack-1', 'n')).toContain(n);
      }
    } finally {
      storage.append = append;
      await device.endAsync();
    }
  });

  it('still acknowledges a refused message, after its error notice', async () => {
    const { credentials } = await createDevice(app, 'ack-2');
    const device = await connectDevice(app, credentials);
    await device.subscribeAsync('devices/ack-2/errors');
    const order: string[] = [];
    device.on('message', () => order.push('notice'));
    await device.publishAsync('devices/ack-2/telemetry', 'not json', { qos: 1 });
    order.push('puback');
    await within(
      new Promise<void>((done) => (order.includes('notice') ? done() : device.once('message', () => done()))),
      5_000,
      'the error notice',
    );
    expect(order).toEqual(['notice', 'puback']);
    await device.endAsync();
  });
});

describe('MQTT hardening: the broker', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({ MQTT_AUTH_MAX_FAILURES: '3', MQTT_AUTH_BLOCK_SECONDS: '1' });
  });

  afterAll(async () => {
    await app.stop();
  });

  it('stores a 75 KB publish sent in the same write as the CONNECT, every time', async () => {
    const { credentials } = await createDevice(app, 'big-1');
    const payload = Buffer.from(bigBatch(0, 75_000));
    expect(payload.length).toBeGreaterThan(75_000);
    for (let i = 1; i <= 30; i++) {
      const body = Buffer.from(bigBatch(i, 75_000));
      const socket = tcpConnect(app.mqttPort!, '127.0.0.1');
      await new Promise((done) => socket.once('connect', done));
      const received: Packet[] = [];
      const parser = packetParser();
      parser.on('packet', (packet) => received.push(packet));
      const acked = new Promise<void>((done, fail) => {
        socket.on('data', (chunk) => {
          parser.parse(chunk);
          if (received.some((p) => p.cmd === 'puback')) done();
        });
        socket.once('close', () => fail(new Error(`connection ${i} closed; got ${received.map((p) => p.cmd).join()}`)));
      });
      socket.write(
        Buffer.concat([
          generate({
            cmd: 'connect',
            protocolId: 'MQTT',
            protocolVersion: 4,
            clientId: 'big-1',
            username: 'big-1',
            password: Buffer.from(credentials.password),
            clean: true,
            keepalive: 30,
          }),
          generate({
            cmd: 'publish',
            topic: 'devices/big-1/telemetry',
            payload: body,
            qos: 1,
            messageId: 1,
            retain: false,
            dup: false,
          }),
        ]),
      );
      await acked;
      socket.destroy();
    }
    const marks = await historyOf(app, 'big-1', 'i');
    expect(marks.sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  const mosquittoPub = spawnSync('which', ['mosquitto_pub']).status === 0;
  (mosquittoPub ? it : it.skip)('takes a 75 KB file from mosquitto_pub -f, every time', async () => {
    const { credentials } = await createDevice(app, 'big-2');
    const file = join(mkdtempSync(join(tmpdir(), 'iot-pub-')), 'batch.json');
    for (let i = 1; i <= 10; i++) {
      writeFileSync(file, bigBatch(i, 75_000));
      const run = spawn('mosquitto_pub', [
        ...['-h', '127.0.0.1', '-p', String(app.mqttPort), '-V', 'mqttv311', '-q', '1'],
        ...['-i', 'big-2', '-u', 'big-2', '-P', credentials.password, '-t', 'devices/big-2/telemetry', '-f', file],
      ]);
      let stderr = '';
      run.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await within(new Promise<number | null>((done) => run.once('exit', done)), 10_000, 'mosquitto_pub');
      expect({ i, code, stderr }).toEqual({ i, code: 0, stderr: '' });
    }
    rmSync(join(file, '..'), { recursive: true, force: true });
    expect((await historyOf(app, 'big-2', 'i')).length).toBe(10);
  });

  it('keeps nothing a device publishes retained, so nothing is replayed to its next session', async () => {
    const { credentials } = await createDevice(app, 'ret-1');
    const first = await connectDevice(app, credentials);
    for (let i = 0; i < 5; i++) {
      await first.publishAsync(`devices/ret-1/commands/old-${i}/result`, '{"status":"succeeded"}', {
        qos: 1,
        retain: true,
      });
    }
    await first.endAsync();

    const second = await connectDevice(app, credentials);
    const topics: string[] = [];
    second.on('message', (topic) => topics.push(topic));
    await second.subscribeAsync('devices/ret-1/commands/#', { qos: 1 });
    // A command sent now arrives after anything replayed on that subscription: it closes the window.
    const command = await api<{ commandId: string }>(app, app.adminToken, 'POST', '/devices/ret-1/commands', {
      name: 'ping',
    });
    const commandTopic = `devices/ret-1/commands/${command.body.commandId}`;
    await within(
      new Promise<void>((done) =>
        topics.includes(commandTopic) ? done() : second.on('message', (t) => t === commandTopic && done()),
      ),
      5_000,
      'the command',
    );
    expect(topics).toEqual([commandTopic]);
    await second.endAsync();
  });

  it('refuses wrong secrets past the allowance without checking them, until the block time has passed', async () => {
    const { credentials } = await createDevice(app, 'guess-1');
    const other = await createDevice(app, 'guess-2');
    for (let i = 0; i < 3; i++) expect(await connackCode(app, 'guess-1', 'wrong-secret')).toBe(4);
    const refusedAt = Date.now();
    expect(await connackCode(app, 'guess-1', 'wrong-secret')).toBe(3); // server unavailable: retry later
    expect(await connackCode(app, 'guess-1', credentials.password)).toBe(3);
    expect(Date.now() - refusedAt).toBeLessThan(1_000);
    expect(await connackCode(app, 'guess-2', other.credentials.password)).toBe(0);

    await new Promise((done) => setTimeout(done, 1_100)); // MQTT_AUTH_BLOCK_SECONDS=1
    expect(await connackCode(app, 'guess-1', credentials.password)).toBe(0);
    expect(await metric(app, 'iot_messages_rejected_total{reason="auth_throttled"}')).toBeGreaterThan(0);
  });

  it.each([true, false])(
    'sends a command held for a persistent session once the device is back (resubscribing: %s), 20 times',
    async (resubscribe) => {
      const id = `persist-${resubscribe ? 'sub' : 'nosub'}`;
      const { credentials } = await createDevice(app, id);
      const options = { clean: false, reconnectPeriod: 0 };
      const setup = await connectDevice(app, credentials, options);
      await setup.subscribeAsync(`devices/${id}/commands/+`, { qos: 1 });
      await setup.endAsync();
      for (let round = 1; round <= 20; round++) {
        const sent = await sendHeldPing(app, id);
        const topic = `devices/${id}/commands/${sent.body.commandId}`;
        const device = mqtt.connect(app.mqttUrl, {
          clientId: id,
          username: id,
          password: credentials.password,
          ...options,
        });
        const received = new Promise<void>((done) => device.on('message', (t) => t === topic && done()));
        await within(
          new Promise<void>((done, fail) => {
            device.once('connect', () => done());
            device.once('error', fail);
          }),
          5_000,
          'the connection',
        );
        if (resubscribe) await device.subscribeAsync(`devices/${id}/commands/+`, { qos: 1 });
        await within(received, 5_000, `round ${round}: the command`);
        const status = await api<{ status: string }>(app, app.adminToken, 'GET', `/commands/${sent.body.commandId}`);
        expect({ round, status: status.body.status }).toEqual({ round, status: 'sent' });
        await device.endAsync();
      }
    },
  );

  it('sends a held command to a persistent session that subscribes as soon as CONNACK arrives, while its queued messages go out, 20 times', async () => {
    const id = 'quick-sub';
    const { credentials } = await createDevice(app, id);
    const presence = new StreamRecorder(app, app.adminToken, '?events=status');
    await presence.opened();
    const offline = () => presence.of('status', id).filter((e) => e.data['online'] === false).length;
    const setup = await connectDevice(app, credentials, { clean: false });
    await setup.subscribeAsync(`devices/${id}/state/desired`, { qos: 1 });
    await setup.endAsync();
    await presence.waitFor(() => offline() === 1);
    for (let round = 1; round <= 20; round++) {
      // Desired states queued for the offline session: going out on reconnect, they keep aedes busy a while.
      for (let v = 0; v < 10; v++)
        await api(app, app.adminToken, 'PATCH', `/devices/${id}/state/desired`, { v: round * 100 + v });
      const sent = await sendHeldPing(app, id);
      const topic = `devices/${id}/commands/${sent.body.commandId}`;
      const socket = tcpConnect(app.mqttPort!, '127.0.0.1');
      await new Promise((done) => socket.once('connect', done));
      const parser = packetParser();
      const received = new Promise<void>((done) => {
        parser.on('packet', (packet) => {
          // Subscribe in the same turn the CONNACK is read, as a device that does not wait for anything else.
          if (packet.cmd === 'connack') {
            socket.write(
              generate({
                cmd: 'subscribe',
                messageId: 1,
                subscriptions: [{ topic: `devices/${id}/commands/+`, qos: 1 }],
              }),
            );
          }
          if (packet.cmd === 'publish' && packet.qos === 1)
            socket.write(generate({ cmd: 'puback', messageId: packet.messageId }));
          if (packet.cmd === 'publish' && packet.topic === topic) done();
        });
      });
      socket.on('data', (chunk) => parser.parse(chunk));
      socket.write(
        generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: id,
          username: id,
          password: Buffer.from(credentials.password),
          clean: false,
          keepalive: 30,
        }),
      );
      await within(received, 5_000, `round ${round}: the command`);
      socket.destroy();
      await presence.waitFor(() => offline() === round + 1); // gone, so the next command is held
    }
    presence.close();
  });
});
