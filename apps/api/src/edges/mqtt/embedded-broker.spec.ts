import { connect as tcpConnect, type Socket } from 'node:net';
import { connectAsync, type MqttClient } from 'mqtt';
import { generate, parser as packetParser, type Packet } from 'mqtt-packet';
import type { DeviceMessage, TransportHandlers } from '../../core/device-transport';
import type { DeviceAuthService } from '../../core/devices/device-auth.service';
import { EmbeddedBroker, MAX_QOS2_IN_FLIGHT } from './embedded-broker';

/** A device speaking raw MQTT packets, for what MQTT.js will not send. */
class RawDevice {
  readonly packets: Packet[] = [];
  private waiters: Array<() => void> = [];
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    const parser = packetParser();
    parser.on('packet', (packet) => {
      this.packets.push(packet);
      this.waiters.splice(0).forEach((wake) => wake());
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(port: number, id: string, clean = true): Promise<RawDevice> {
    const socket = tcpConnect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const device = new RawDevice(socket);
    device.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: id,
      username: id,
      password: Buffer.from('s'),
      clean,
      keepalive: 60,
    });
    await device.until((p) => p.cmd === 'connack');
    return device;
  }

  send(packet: Packet): void {
    this.socket.write(generate(packet));
  }

  /** Resolves once a received packet matches (bounded by the test's timeout). */
  async until(match: (packet: Packet) => boolean): Promise<Packet> {
    for (;;) {
      const found = this.packets.find(match);
      if (found) return found;
      await new Promise<void>((wake) => this.waiters.push(wake));
    }
  }
}

/** Handlers that record messages and let a test decide when devices must wait. */
class Handlers implements TransportHandlers {
  readonly messages: DeviceMessage[] = [];
  readonly arrived: Array<() => void> = [];
  hold: Promise<void> | undefined;
  /** While set, messages are not reported stored: their `stored` callbacks wait here. */
  holdStored = false;
  readonly unstored: Array<(error?: Error) => void> = [];

  onMessage(message: DeviceMessage, stored?: (error?: Error) => void): void {
    this.messages.push(message);
    if (stored) {
      if (this.holdStored) this.unstored.push(stored);
      else stored();
    }
    this.arrived.splice(0).forEach((resolve) => resolve());
  }
  readonly rejected: string[] = [];
  readonly commandsSubscribed: string[] = [];

  onSession(): void {
    // Sessions do not matter here.
  }
  onCommandsSubscribed(deviceId: string): void {
    this.commandsSubscribed.push(deviceId);
    this.arrived.splice(0).forEach((resolve) => resolve());
  }
  onRejected(deviceId: string, rawTopic: string, reason: string): void {
    this.rejected.push(reason);
  }
  backpressure(): Promise<void> | undefined {
    const hold = this.hold;
    this.hold = undefined;
    return hold;
  }
  nextMessage(): Promise<void> {
    return new Promise((resolve) => this.arrived.push(resolve));
  }
  async messageCount(count: number): Promise<void> {
    while (this.messages.length < count) await this.nextMessage();
  }
}

describe('EmbeddedBroker', () => {
  const auth = { authenticate: async () => 'ok' } as unknown as DeviceAuthService;
  let broker: EmbeddedBroker;
  let handlers: Handlers;
  const clients: MqttClient[] = [];

  beforeEach(async () => {
    broker = new EmbeddedBroker(auth, { port: 0, host: '127.0.0.1' });
    handlers = new Handlers();
    await broker.start(handlers);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.stop();
  });

  async function device(id: string, options: { clean?: boolean } = {}): Promise<MqttClient> {
    const client = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      clientId: id,
      username: id,
      password: 'secret',
      protocolVersion: 4,
      reconnectPeriod: 0,
      ...options,
    });
    clients.push(client);
    return client;
  }

  it('holds a device publish (and so the reading of its socket) until the platform may take more', async () => {
    const [slow, other] = await Promise.all([device('dev-a'), device('dev-b')]);
    let release!: () => void;
    handlers.hold = new Promise((resolve) => (release = resolve));
    const order: string[] = [];

    const arrived = handlers.nextMessage();
    const held = slow
      .publishAsync('devices/dev-a/telemetry', '{"t":1}', { qos: 1 })
      .then(() => order.push('dev-a acked'));
    await arrived;
    // The message itself was taken; only its PUBACK (and the device's next packets) wait.
    expect(handlers.messages.map((m) => m.deviceId)).toEqual(['dev-a']);

    // Another publish is handled and acknowledged meanwhile: dev-a's ack is still held.
    await other.publishAsync('devices/dev-b/telemetry', '{"t":2}', { qos: 1 });
    order.push('dev-b acked');
    order.push('released');
    release();
    await held;
    expect(order).toEqual(['dev-b acked', 'released', 'dev-a acked']);
    expect(handlers.rejected).toEqual([]);
  });

  it('acknowledges telemetry, state and status at every QoS though it does not route them', async () => {
    const dev = await device('dev-a');
    for (const qos of [0, 1, 2] as const) {
      await dev.publishAsync('devices/dev-a/telemetry', `{"t":${qos}}`, { qos });
      await dev.publishAsync('devices/dev-a/state/reported', '{"on":true}', { qos });
      await dev.publishAsync('devices/dev-a/status', 'online', { qos, retain: true });
    }
    // QoS 0 has no ack: an acknowledged publish after it proves the broker went on reading.
    await dev.publishAsync('devices/dev-a/telemetry', '{"t":"last"}', { qos: 1 });
    expect(handlers.messages.map((m) => m.topic.kind)).toEqual([
      ...['telemetry', 'state.reported', 'status'],
      ...['telemetry', 'state.reported', 'status'],
      ...['telemetry', 'state.reported', 'status'],
      'telemetry',
    ]);
    expect(handlers.rejected).toEqual([]);
  });

  it('still routes what a device may subscribe to, such as its own command results under commands/#', async () => {
    const dev = await device('dev-a');
    await dev.subscribeAsync('devices/dev-a/commands/#', { qos: 1 });
    const echoed = new Promise<string>((resolve) => dev.once('message', (topic) => resolve(topic)));
    await dev.publishAsync('devices/dev-a/commands/c1/result', '{"status":"ok"}', { qos: 1 });
    expect(await echoed).toBe('devices/dev-a/commands/c1/result');
  });

  it("routes the platform's own publishes to the device", async () => {
    const dev = await device('dev-a');
    await dev.subscribeAsync('devices/dev-a/errors', { qos: 0 });
    const received = new Promise<string>((resolve) =>
      dev.once('message', (_topic, payload) => resolve(String(payload))),
    );
    await broker.publish('devices/dev-a/errors', '{"error":"x"}', { qos: 0 });
    expect(await received).toBe('{"error":"x"}');
  });

  it('writes the packets a device gets in one turn in one system call', async () => {
    const dev = await RawDevice.connect(broker.port!, 'dev-a');
    dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/dev-a/commands/+', qos: 1 }] });
    await dev.until((p) => p.cmd === 'suback');
    // The device's connection on the broker's side: count what reaches the kernel.
    const conn = (broker as unknown as { sessions: Map<string, { conn: Socket }> }).sessions.get('dev-a')!.conn;
    const internals = conn as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
    const writes = jest.spyOn(internals, '_write');
    const writevs = jest.spyOn(internals, '_writev');

    await Promise.all([1, 2, 3].map((n) => broker.publish(`devices/dev-a/commands/c${n}`, '{}', { qos: 1 })));
    await dev.until((p) => p.cmd === 'publish' && p.topic === 'devices/dev-a/commands/c3');

    expect(writes.mock.calls.length + writevs.mock.calls.length).toBe(1);
    dev.socket.destroy();
  });

  /** aedes' in-memory persistence, as the broker left it. */
  function persistence(): {
    incomingGetPacket(client: { id: string }, packet: { messageId: number }): Promise<{ payload: Buffer }>;
    createRetainedStreamCombi(patterns: string[]): AsyncIterable<{ topic: string }>;
  } {
    return (broker as unknown as { broker: { persistence: ReturnType<typeof persistence> } }).broker.persistence;
  }

  describe('a PUBACK means stored', () => {
    it.each([1, 2] as const)('acknowledges a QoS %i publish only once the api reports it stored', async (qos) => {
      handlers.holdStored = true;
      const [dev, other] = await Promise.all([device('dev-a'), device('dev-b')]);
      let acked = false;
      const arrived = handlers.nextMessage();
      const published = dev.publishAsync('devices/dev-a/telemetry', '{"t":1}', { qos }).then(() => (acked = true));
      await arrived;
      // The broker answers others meanwhile (a SUBACK round trip), but not this PUBACK / PUBREC.
      await other.subscribeAsync('devices/dev-b/errors');
      await dev.subscribeAsync('devices/dev-a/errors');
      expect(acked).toBe(false);
      handlers.unstored.splice(0).forEach((stored) => stored());
      await published;
      expect(acked).toBe(true);
    });

    it('takes several QoS 1 messages of one device while the first waits for its commit', async () => {
      handlers.holdStored = true;
      const dev = await device('dev-a');
      const acks = Array.from({ length: 20 }, (_, i) =>
        dev.publishAsync('devices/dev-a/telemetry', `{"t":${i}}`, { qos: 1 }),
      );
      // Sent in one go, they are read as one chunk and all handed over; none is acknowledged yet.
      await handlers.messageCount(20);
      expect(handlers.unstored).toHaveLength(20);
      handlers.unstored.splice(0).forEach((stored) => stored());
      await Promise.all(acks);
    });

    it('closes the connection without acknowledging a message the api could not store', async () => {
      handlers.holdStored = true;
      const raw = await RawDevice.connect(broker.port!, 'dev-a');
      raw.send({
        cmd: 'publish',
        topic: 'devices/dev-a/state/reported',
        payload: Buffer.from('{}'),
        qos: 1,
        messageId: 7,
        retain: false,
        dup: false,
      });
      await handlers.messageCount(1);
      handlers.unstored.shift()?.(new Error('storage failed'));
      await raw.closed;
      expect(raw.packets.map((p) => p.cmd)).toEqual(['connack']);
    });
  });

  describe('half-finished QoS 2 exchanges', () => {
    it(`keeps no payloads, closes a connection past ${MAX_QOS2_IN_FLIGHT} unreleased, and frees them at disconnect`, async () => {
      const raw = await RawDevice.connect(broker.port!, 'dev-a', false);
      const payload = Buffer.alloc(10_000, 'x');
      const publish = (messageId: number) =>
        raw.send({
          cmd: 'publish',
          topic: 'devices/dev-a/telemetry',
          payload,
          qos: 2,
          messageId,
          retain: false,
          dup: false,
        });
      for (let id = 1; id <= MAX_QOS2_IN_FLIGHT; id++) publish(id);
      await raw.until((p) => p.cmd === 'pubrec' && p.messageId === MAX_QOS2_IN_FLIGHT);
      const kept = await persistence().incomingGetPacket({ id: 'dev-a' }, { messageId: 1 });
      expect(kept.payload).toHaveLength(0);

      publish(MAX_QOS2_IN_FLIGHT + 1); // never released, like the ones before: one too many
      await raw.closed;
      await expect(persistence().incomingGetPacket({ id: 'dev-a' }, { messageId: 1 })).rejects.toThrow();
    });

    it('takes a resent QoS 2 publish (DUP) it already acknowledged only once', async () => {
      const raw = await RawDevice.connect(broker.port!, 'dev-a');
      const publish = (dup: boolean) =>
        raw.send({
          cmd: 'publish',
          topic: 'devices/dev-a/telemetry',
          payload: Buffer.from('{"t":1}'),
          qos: 2,
          messageId: 9,
          retain: false,
          dup,
        });
      publish(false);
      await raw.until((p) => p.cmd === 'pubrec');
      publish(true);
      raw.send({ cmd: 'pubrel', messageId: 9 });
      await raw.until((p) => p.cmd === 'pubcomp');
      expect(raw.packets.filter((p) => p.cmd === 'pubrec')).toHaveLength(2);
      expect(handlers.messages).toHaveLength(1);
      raw.socket.destroy();
    });
  });

  it('keeps no retained message a device publishes', async () => {
    const dev = await device('dev-a');
    await dev.publishAsync('devices/dev-a/commands/c1/result', '{"status":"succeeded"}', { qos: 1, retain: true });
    await dev.publishAsync('devices/dev-a/status', 'online', { qos: 1, retain: true });
    const retained: string[] = [];
    for await (const packet of persistence().createRetainedStreamCombi(['#'])) retained.push(packet.topic);
    expect(retained).toEqual([]);
  });

  it("counts a persistent session's restored commands subscription once the device is back", async () => {
    const first = await device('dev-a', { clean: false });
    await first.subscribeAsync('devices/dev-a/commands/+', { qos: 1 });
    expect(handlers.commandsSubscribed).toEqual(['dev-a']);
    await first.endAsync();
    expect(broker.acceptsCommands('dev-a')).toBe(false);

    await device('dev-a', { clean: false }); // no SUBSCRIBE: the session has it
    // CONNACK goes out just before aedes reports the client ready.
    while (handlers.commandsSubscribed.length < 2) await handlers.nextMessage();
    expect(handlers.commandsSubscribed).toEqual(['dev-a', 'dev-a']);
    expect(broker.acceptsCommands('dev-a')).toBe(true);
  });
});
