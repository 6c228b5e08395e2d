import { connectAsync, type MqttClient } from 'mqtt';
import type { DeviceMessage, TransportHandlers } from './transport';
import type { DeviceAuthService } from './device-auth.service';
import { EmbeddedBroker } from './embedded-broker';

/** Handlers that record messages and let a test decide when devices must wait. */
class Handlers implements TransportHandlers {
  readonly messages: DeviceMessage[] = [];
  readonly arrived: Array<() => void> = [];
  hold: Promise<void> | undefined;

  onMessage(message: DeviceMessage): void {
    this.messages.push(message);
    this.arrived.splice(0).forEach((resolve) => resolve());
  }
  readonly rejected: string[] = [];

  onSession(): void {
    // Sessions do not matter here.
  }
  onCommandsSubscribed(): void {
    // Nor do command subscriptions.
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
}

describe('EmbeddedBroker', () => {
  const auth = { verify: async () => true } as unknown as DeviceAuthService;
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

  async function device(id: string): Promise<MqttClient> {
    const client = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      clientId: id,
      username: id,
      password: 'secret',
      protocolVersion: 4,
      reconnectPeriod: 0,
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
});
