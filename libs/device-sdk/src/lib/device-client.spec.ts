import { createServer, type AddressInfo, type Server } from 'node:net';
import { generate, parser as packetParser, type IPublishPacket } from 'mqtt-packet';
import { topics, type CommandMessage, type DesiredStateDocument, type ErrorNotice } from '@iot/protocol';
import { startRecorder, startTestBroker, type Recorder, type TestBroker } from '../testing/test-broker';
import { connectDevice, type ConnectDeviceOptions, type DeviceClient, type TelemetryPayload } from './device-client';

const ID = 'boiler-7';
const SECRET = 'device-secret';

describe('DeviceClient (against an in-process aedes broker)', () => {
  let broker: TestBroker;
  let platform: Recorder;
  let errors: Error[];
  const clients: DeviceClient[] = [];

  /** Connects a device; every client made here is closed after the test. */
  function connect(overrides: Partial<ConnectDeviceOptions<undefined>> = {}): DeviceClient {
    const client = connectDevice({
      url: broker.url,
      deviceId: ID,
      password: SECRET,
      reconnectPeriod: 100,
      ...overrides,
    });
    client.on('error', (error) => errors.push(error));
    clients.push(client);
    return client;
  }

  function command(name: string, params: Record<string, unknown> = {}): CommandMessage {
    return { name, params, issuedAt: Date.now(), expiresAt: Date.now() + 60_000 };
  }

  async function sendCommand(commandId: string, payload: unknown): Promise<void> {
    await platform.client.publishAsync(topics.command(ID, commandId), JSON.stringify(payload), { qos: 1 });
  }

  function results(commandId: string, count: number): Promise<unknown[]> {
    const topic = topics.commandResult(ID, commandId);
    return platform.waitFor((m) => m.topic === topic, count).then((found) => found.map((m) => JSON.parse(m.text)));
  }

  const statuses = (): string[] => platform.messages.filter((m) => m.topic === topics.status(ID)).map((m) => m.text);

  beforeEach(async () => {
    errors = [];
    broker = await startTestBroker({ [ID]: SECRET });
    platform = await startRecorder(broker);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await platform.close();
    await broker.close();
  });

  describe('connecting', () => {
    it('reconnects by default at a period of its own between 2 and 4 s, so a fleet comes back spread out', async () => {
      // Nothing listens on port 1: the clients only try.
      const sut = Array.from({ length: 10 }, () =>
        connectDevice({ url: 'mqtt://127.0.0.1:1', deviceId: ID, password: SECRET }),
      );
      for (const client of sut) client.on('error', () => undefined);
      await Promise.all(sut.map((client) => client.close()));
      const periods = sut.map((client) => client.mqtt.options.reconnectPeriod ?? 0);
      for (const period of periods) {
        expect(period).toBeGreaterThanOrEqual(2000);
        expect(period).toBeLessThan(4000);
      }
      expect(new Set(periods).size).toBeGreaterThan(1);
    });

    it('uses the device id as client id and username, and publishes a retained online status', async () => {
      const connected = new Promise<string>((resolve) => broker.broker.once('clientReady', (c) => resolve(c.id)));
      const sut = connect();

      await sut.waitForConnect();

      expect(await connected).toBe(ID);
      expect(sut.connected).toBe(true);
      await platform.waitFor((m) => m.topic === topics.status(ID) && m.text === 'online');
      const late = await startRecorder(broker, topics.status(ID));
      try {
        const [retained] = await late.waitFor(() => true);
        expect(retained).toMatchObject({ text: 'online', retain: true, qos: 1 });
      } finally {
        await late.close();
      }
    });

    it('rejects waitForConnect when the broker refuses the password', async () => {
      const sut = connect({ password: 'wrong', reconnectPeriod: 0 });

      await expect(sut.waitForConnect()).rejects.toThrow(/Connection refused: Bad username or password/);
      expect(sut.connected).toBe(false);
    });

    it('rejects waitForConnect when the client is closed first', async () => {
      // A server that accepts the connection and never answers CONNACK.
      const silent = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const sut = connect({ url: `mqtt://127.0.0.1:${(silent.address() as AddressInfo).port}` });
        const waiting = sut.waitForConnect();

        await sut.close();

        await expect(waiting).rejects.toThrow('client closed');
      } finally {
        silent.close();
      }
    });

    it('refuses a device id outside the contract', () => {
      expect(() => connect({ deviceId: 'a/#' })).toThrow(/invalid device id/);
    });
  });

  describe('presence', () => {
    it('has the broker publish the offline will when the connection drops, then reconnects and is online again', async () => {
      const sut = connect();
      await sut.waitForConnect();
      await platform.waitFor((m) => m.topic === topics.status(ID) && m.text === 'online');
      const events: string[] = [];
      sut.on('offline', () => events.push('offline'));
      sut.on('reconnect', () => events.push('reconnect'));
      const reconnected = new Promise<void>((resolve) => sut.once('connect', () => resolve()));

      // A network failure: no DISCONNECT, so the broker publishes the will [MQTT-3.1.2-8].
      sut.mqtt.stream.destroy();

      await platform.waitFor((m) => m.topic === topics.status(ID) && m.text === 'offline');
      await reconnected;
      await platform.waitFor((m) => m.topic === topics.status(ID) && m.text === 'online', 2);
      expect(statuses()).toEqual(['online', 'offline', 'online']);
      expect(events).toEqual(['offline', 'reconnect']);
    });

    it('close() publishes a retained offline status and disconnects', async () => {
      const sut = connect();
      await sut.waitForConnect();

      await sut.close();

      expect(sut.connected).toBe(false);
      await platform.waitFor((m) => m.topic === topics.status(ID) && m.text === 'offline');
      const late = await startRecorder(broker, topics.status(ID));
      try {
        const [retained] = await late.waitFor(() => true);
        expect(retained).toMatchObject({ text: 'offline', retain: true });
      } finally {
        await late.close();
      }
      await expect(sut.close()).resolves.toBeUndefined();
    });
  });

  describe('publishTelemetry', () => {
    it('publishes the flat, timed and batch forms on the telemetry topic', async () => {
      const sut = connect();
      await sut.waitForConnect();
      const flat = { temperature: 21.5, heating: true, mode: 'eco' };
      const timed = { ts: 1764236400000, values: { temperature: 21.6 } };
      const batch: TelemetryPayload = [{ ts: '2025-11-27T09:40:00Z', values: { temperature: 21.7 } }, { humidity: 40 }];

      await sut.publishTelemetry(flat);
      await sut.publishTelemetry(timed, { qos: 1 });
      await sut.publishTelemetry(batch);

      await platform.waitFor((m) => m.topic === topics.telemetry(ID), 3);
      expect(platform.json(topics.telemetry(ID))).toEqual([flat, timed, batch]);
      const qos = platform.messages.filter((m) => m.topic === topics.telemetry(ID)).map((m) => m.qos);
      expect(qos).toEqual([0, 1, 0]);
    });

    it.each([
      ['a bad key', { 'bad key': 1 }, /telemetry keys must match/],
      ['a non-finite number', { temperature: Number.NaN }, /invalid telemetry/],
      ['an empty object', {}, /at least one value/],
      ['ts without values', { ts: 1 } as never, /needs both "ts" and "values"/],
      ['an empty batch', [], /at least one entry/],
    ])('rejects %s and publishes nothing', async (_case, payload, message) => {
      const sut = connect();
      await sut.waitForConnect();

      await expect(sut.publishTelemetry(payload)).rejects.toThrow(message);
      await sut.publishTelemetry({ marker: 1 }, { qos: 1 });

      await platform.waitFor((m) => m.topic === topics.telemetry(ID));
      expect(platform.json(topics.telemetry(ID))).toEqual([{ marker: 1 }]);
    });
  });

  describe('reportState', () => {
    it('publishes a merge patch on state/reported with QoS 1', async () => {
      const sut = connect();
      await sut.waitForConnect();

      await sut.reportState({ setpoint: 21, schedule: null });

      const [message] = await platform.waitFor((m) => m.topic === topics.stateReported(ID));
      expect(JSON.parse(message.text)).toEqual({ setpoint: 21, schedule: null });
      expect(message.qos).toBe(1);
      expect(message.retain).toBe(false);
    });
  });

  describe('onCommand', () => {
    it('answers accepted, then succeeded with the handler result', async () => {
      const sut = connect();
      const seen: unknown[] = [];
      sut.onCommand('setpoint.set', async (params, context) => {
        seen.push(params, context.name, context.commandId);
        return { setpoint: params['value'] };
      });
      await sut.waitForConnect();

      await sendCommand('cmd-1', command('setpoint.set', { value: 22.5 }));

      expect(await results('cmd-1', 2)).toEqual([
        { status: 'accepted' },
        { status: 'succeeded', result: { setpoint: 22.5 } },
      ]);
      expect(seen).toEqual([{ value: 22.5 }, 'setpoint.set', 'cmd-1']);
    });

    it('lets a long-running handler report progress and ask for longer before it answers', async () => {
      const sut = connect();
      sut.onCommand('firmware.update', async (_params, context) => {
        await context.progress(10, { timeoutMs: 600_000 });
        await context.progress(100);
        await expect(context.progress(101)).rejects.toThrow('progress must be a percentage from 0 to 100, not 101');
        return { firmware: '2.0' };
      });
      await sut.waitForConnect();

      await sendCommand('cmd-p', command('firmware.update'));

      expect(await results('cmd-p', 4)).toEqual([
        { status: 'accepted' },
        { status: 'in-progress', progress: 10, timeoutMs: 600_000 },
        { status: 'in-progress', progress: 100 },
        { status: 'succeeded', result: { firmware: '2.0' } },
      ]);
    });

    it('omits result when the handler returns nothing', async () => {
      const sut = connect();
      sut.onCommand('reboot', () => undefined);
      await sut.waitForConnect();

      await sendCommand('cmd-2', command('reboot'));

      expect(await results('cmd-2', 2)).toEqual([{ status: 'accepted' }, { status: 'succeeded' }]);
    });

    it('answers failed with the message of a thrown error or a rejection', async () => {
      const sut = connect();
      sut.onCommand('throws', () => {
        throw new Error('too hot');
      });
      sut.onCommand('rejects', () => Promise.reject(new Error('relay stuck')));
      await sut.waitForConnect();

      await sendCommand('cmd-3', command('throws'));
      await sendCommand('cmd-4', command('rejects'));

      expect(await results('cmd-3', 2)).toEqual([{ status: 'accepted' }, { status: 'failed', error: 'too hot' }]);
      expect(await results('cmd-4', 2)).toEqual([{ status: 'accepted' }, { status: 'failed', error: 'relay stuck' }]);
    });

    it('answers failed "unknown command" for a name without a handler', async () => {
      const sut = connect();
      sut.onCommand('reboot', () => undefined);
      await sut.waitForConnect();

      await sendCommand('cmd-5', command('self-destruct'));

      expect(await results('cmd-5', 1)).toEqual([{ status: 'failed', error: 'unknown command' }]);
      await sendCommand('cmd-6', command('reboot'));
      await results('cmd-6', 2);
      expect(platform.json(topics.commandResult(ID, 'cmd-5'))).toHaveLength(1);
    });

    it('answers failed for a payload that is not a command', async () => {
      const sut = connect();
      sut.onCommand('reboot', () => undefined);
      await sut.waitForConnect();

      await sendCommand('cmd-7', { name: 'reboot' });

      const [answer] = await results('cmd-7', 1);
      expect(answer).toEqual({ status: 'failed', error: expect.stringMatching(/^invalid command: params/) });
    });

    it('runs a redelivered command once', async () => {
      const sut = connect();
      const handler = jest.fn(() => 'done');
      sut.onCommand('reboot', handler);
      await sut.waitForConnect();

      await sendCommand('cmd-8', command('reboot'));
      await sendCommand('cmd-8', command('reboot'));
      await sendCommand('cmd-9', command('reboot'));

      await results('cmd-9', 2);
      expect(handler).toHaveBeenCalledTimes(2);
      expect(platform.json(topics.commandResult(ID, 'cmd-8'))).toHaveLength(2);
    });

    it('is subscribed before it announces online, so a command sent on "online" arrives', async () => {
      await platform.close();
      await broker.close();
      broker = await startTestBroker({ [ID]: SECRET }, { subscribeDelayMs: 300 });
      platform = await startRecorder(broker);
      const sut = connect();
      sut.onCommand('reboot', () => 'ok');
      platform.client.on('message', (topic, payload) => {
        if (topic === topics.status(ID) && payload.toString() === 'online')
          void sendCommand('cmd-10', command('reboot'));
      });

      await sut.waitForConnect();

      expect(await results('cmd-10', 2)).toEqual([{ status: 'accepted' }, { status: 'succeeded', result: 'ok' }]);
    });

    it('refuses a command name outside the contract', () => {
      const sut = connect();
      expect(() => sut.onCommand('1bad', () => undefined)).toThrow(/invalid command name/);
    });
  });

  describe('onDesiredState', () => {
    async function publishDesired(document: DesiredStateDocument | string): Promise<void> {
      const payload = typeof document === 'string' ? document : JSON.stringify(document);
      await platform.client.publishAsync(topics.stateDesired(ID), payload, { qos: 1, retain: true });
    }

    it('delivers the retained document on connect, then each new one, skipping a repeat', async () => {
      await publishDesired({ version: 3, state: { setpoint: 20 } });
      const sut = connect();
      const documents: DesiredStateDocument[] = [];
      sut.onDesiredState((document) => {
        documents.push(document);
      });
      await sut.waitForConnect();
      await waitUntil(() => documents.length === 1);

      await publishDesired({ version: 4, state: { setpoint: 22 } });
      await publishDesired({ version: 4, state: { setpoint: 22 } });
      await publishDesired({ version: 5, state: { setpoint: 23, relay: false } });
      await waitUntil(() => documents.length >= 3);

      expect(documents).toEqual([
        { version: 3, state: { setpoint: 20 } },
        { version: 4, state: { setpoint: 22 } },
        { version: 5, state: { setpoint: 23, relay: false } },
      ]);
      expect(sut.desiredState).toEqual({ version: 5, state: { setpoint: 23, relay: false } });
    });

    it('calls a handler added later with the latest document', async () => {
      await publishDesired({ version: 1, state: { relay: true } });
      const sut = connect();
      sut.onDesiredState(() => undefined);
      await sut.waitForConnect();
      await waitUntil(() => sut.desiredState !== undefined);

      const late = jest.fn();
      sut.onDesiredState(late);

      await waitUntil(() => late.mock.calls.length > 0);
      expect(late).toHaveBeenCalledWith({ version: 1, state: { relay: true } });
    });

    it('emits an error for a document that breaks the contract, and for a handler that throws', async () => {
      const sut = connect();
      sut.onDesiredState(() => {
        throw new Error('cannot apply');
      });
      await sut.waitForConnect();

      await publishDesired('{"version": -1, "state": {}}');
      await publishDesired({ version: 1, state: {} });

      await waitUntil(() => errors.length >= 2);
      expect(errors.map((e) => e.message)).toEqual([
        expect.stringMatching(/^invalid desired state document/),
        'cannot apply',
      ]);
    });
  });

  describe('onError', () => {
    it('passes on notices from the errors topic', async () => {
      const sut = connect();
      const notices: ErrorNotice[] = [];
      sut.onError((notice) => notices.push(notice));
      await sut.waitForConnect();
      const notice: ErrorNotice = {
        topic: topics.telemetry(ID),
        error: 'invalid_json: payload is not valid JSON',
        ts: 1,
      };

      await platform.client.publishAsync(topics.errors(ID), JSON.stringify(notice), { qos: 0 });

      await waitUntil(() => notices.length === 1);
      expect(notices).toEqual([notice]);
    });
  });
});

describe('DeviceClient on MQTT 5 (against a scripted broker)', () => {
  let server: Server;
  /** Publishes the broker got, the device's status apart, in order. */
  let received: IPublishPacket[];
  /** How many more of those the broker answers "no matching subscribers" (reason 16), as a restarted Mosquitto does. */
  let unrouted: number;
  let sut: DeviceClient | undefined;

  beforeEach(async () => {
    received = [];
    unrouted = 0;
    server = createServer((socket) => {
      const parser = packetParser({ protocolVersion: 5 });
      const send = (packet: Parameters<typeof generate>[0]) => socket.write(generate(packet, { protocolVersion: 5 }));
      parser.on('packet', (packet) => {
        if (packet.cmd === 'connect') send({ cmd: 'connack', reasonCode: 0, sessionPresent: false });
        if (packet.cmd !== 'publish') return;
        const forPlatform = packet.topic !== topics.status(ID);
        if (forPlatform) received.push(packet);
        if (packet.qos !== 1) return;
        const reasonCode = forPlatform && unrouted > 0 ? 16 : 0;
        if (reasonCode) unrouted--;
        send({ cmd: 'puback', messageId: packet.messageId, reasonCode });
      });
      socket.on('data', (chunk) => parser.parse(chunk));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    sut = connectDevice({
      url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
      deviceId: ID,
      password: SECRET,
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    await sut.waitForConnect();
  });

  afterEach(async () => {
    await sut?.close();
    server.close();
  });

  it('sends a QoS 1 message again while the broker answers that no subscription matched it', async () => {
    unrouted = 2;
    const started = Date.now();

    await sut!.publishTelemetry({ n: 1 }, { qos: 1 });

    expect(received.map((p) => p.payload.toString())).toEqual(['{"n":1}', '{"n":1}', '{"n":1}']);
    // After 250 ms, then 500 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    await sut!.reportState({ setpoint: 21 });
    expect(received).toHaveLength(4);
  });

  it('sends a message the broker routed once, and a QoS 0 message once whatever the broker says', async () => {
    await sut!.publishTelemetry({ n: 1 }, { qos: 1 });
    unrouted = 1;
    await sut!.publishTelemetry({ n: 2 });
    // QoS 1 after the QoS 0 message: answered "no matching subscribers" once, and what came before is in.
    await sut!.reportState({ setpoint: 21 });

    expect(received.map((p) => p.payload.toString())).toEqual([
      '{"n":1}',
      '{"n":2}',
      '{"setpoint":21}',
      '{"setpoint":21}',
    ]);
  });
});

/** Polls `condition` every 10 ms for up to `timeoutMs`. */
async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
