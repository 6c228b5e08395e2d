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

describe('EmbeddedBroker backpressure', () => {
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
});
