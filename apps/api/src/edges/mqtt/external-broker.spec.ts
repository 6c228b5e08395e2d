import { Logger } from '@nestjs/common';
import { type Server, Socket, createServer } from 'node:net';
import { generate, parser as packetParser, type Packet } from 'mqtt-packet';
import type { DeviceMessage, TransportHandlers } from '../../core/device-transport';
import { ExternalBroker } from './external-broker';

/** A broker speaking raw MQTT 5 packets: the test decides what it sends and sees every packet the client sends. */
class FakeBroker {
  readonly server: Server;
  /** Packets from the client, per connection, in order. */
  readonly connections: Packet[][] = [];
  private socket: Socket | undefined;
  private waiters: Array<() => void> = [];
  /** What CONNACK says of the session. */
  sessionPresent = false;

  constructor() {
    this.server = createServer((socket) => {
      this.socket = socket;
      const packets: Packet[] = [];
      this.connections.push(packets);
      const parser = packetParser();
      parser.on('packet', (packet) => {
        packets.push(packet);
        if (packet.cmd === 'connect') this.send({ cmd: 'connack', reasonCode: 0, sessionPresent: this.sessionPresent });
        if (packet.cmd === 'subscribe') {
          this.send({ cmd: 'suback', messageId: packet.messageId, granted: packet.subscriptions.map(() => 1) });
        }
        this.wake();
      });
      socket.on('data', (chunk) => parser.parse(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => this.wake());
    });
  }

  get port(): number {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('not listening');
    return address.port;
  }

  /** Drops the connection, as a network fault would. */
  drop(): void {
    this.socket?.destroy();
  }

  send(packet: Packet): void {
    this.socket?.write(generate(packet, { protocolVersion: 5 }));
  }

  publish(messageId: number, value: number, dup = false): void {
    const payload = JSON.stringify({ ts: 1_700_000_000_000, values: { n: value } });
    this.send({ cmd: 'publish', topic: 'devices/d1/telemetry', payload, qos: 1, messageId, dup, retain: false });
  }

  /** The PUBACKs of connection `index`, by packet id. */
  pubacks(index: number): number[] {
    return (this.connections[index] ?? []).flatMap((p) => (p.cmd === 'puback' ? [p.messageId ?? -1] : []));
  }

  /** Resolves once `ready()` holds (bounded by the test's timeout). */
  async until(ready: () => boolean): Promise<void> {
    while (!ready()) await new Promise<void>((wake) => this.waiters.push(wake));
  }

  private wake(): void {
    this.waiters.splice(0).forEach((wake) => wake());
  }
}

/** Records messages; their `stored` callbacks wait for the test. */
class Handlers implements TransportHandlers {
  readonly messages: DeviceMessage[] = [];
  readonly stored: Array<(error?: Error) => void> = [];
  private waiters: Array<() => void> = [];

  onMessage(message: DeviceMessage, stored?: (error?: Error) => void): void {
    this.messages.push(message);
    this.stored.push(stored ?? (() => undefined));
    this.waiters.splice(0).forEach((wake) => wake());
  }
  onSession(): void {
    // Not used by an external broker.
  }
  onCommandsSubscribed(): void {
    // Not used by an external broker.
  }
  onRejected(): void {
    // Nothing is refused here.
  }
  backpressure(): undefined {
    return undefined;
  }
  values(): number[] {
    return this.messages.map((m) => (JSON.parse(m.payload.toString()) as { values: { n: number } }).values.n);
  }
  async count(count: number): Promise<void> {
    while (this.messages.length < count) await new Promise<void>((wake) => this.waiters.push(wake));
  }
}

describe('ExternalBroker', () => {
  let broker: FakeBroker;
  let handlers: Handlers;
  let sut: ExternalBroker;

  beforeAll(() => {
    for (const level of ['log', 'warn'] as const)
      jest.spyOn(Logger.prototype, level).mockImplementation(() => undefined);
  });

  beforeEach(async () => {
    broker = new FakeBroker();
    await new Promise<void>((resolve) => broker.server.listen(0, '127.0.0.1', resolve));
    handlers = new Handlers();
    sut = new ExternalBroker({ url: `mqtt://127.0.0.1:${broker.port}` });
    await sut.start(handlers);
  });

  afterEach(async () => {
    await sut.stop();
    await new Promise<void>((resolve) => broker.server.close(() => resolve()));
  });

  /** Every packet the client wrote before this call has reached the broker. */
  async function roundTrip(connection: number, topic: string): Promise<void> {
    await sut.publish(topic, 'x', { qos: 0 });
    await broker.until(() => broker.connections[connection].some((p) => p.cmd === 'publish' && p.topic === topic));
  }

  it("turns Nagle's algorithm off on every connection, so a PUBACK or a command is not held for a delayed ACK", async () => {
    const setNoDelay = jest.spyOn(Socket.prototype, 'setNoDelay');
    try {
      broker.drop();
      await broker.until(() => (broker.connections[1] ?? []).some((p) => p.cmd === 'subscribe'));
      expect(setNoDelay).toHaveBeenCalledWith(true);
    } finally {
      setNoDelay.mockRestore();
    }
  });

  it('acknowledges a QoS 1 message once it is stored, in order, taking the next ones meanwhile', async () => {
    broker.publish(1, 1);
    broker.publish(2, 2);
    broker.publish(3, 3);
    await handlers.count(3);
    await roundTrip(0, 'barrier/1');
    expect(broker.pubacks(0)).toEqual([]);

    handlers.stored[1]();
    await roundTrip(0, 'barrier/2');
    expect(broker.pubacks(0)).toEqual([]); // 2 waits behind 1

    handlers.stored[0]();
    await broker.until(() => broker.pubacks(0).length === 2);
    handlers.stored[2]();
    await broker.until(() => broker.pubacks(0).length === 3);
    expect(broker.pubacks(0)).toEqual([1, 2, 3]);
  });

  it('does not acknowledge a message that could not be stored: it reconnects and takes its redelivery', async () => {
    broker.publish(1, 1);
    broker.publish(2, 2);
    await handlers.count(2);
    handlers.stored[0]();
    await broker.until(() => broker.pubacks(0).length === 1);

    broker.sessionPresent = true;
    handlers.stored[1](new Error('not stored'));
    await broker.until(() => broker.connections.length === 2 && broker.connections[1].length > 0);
    expect(broker.pubacks(0)).toEqual([1]);

    // The broker delivers again what was not acknowledged; 1 as well, as if its PUBACK had been lost.
    broker.publish(1, 1, true);
    broker.publish(2, 2, true);
    await handlers.count(3);
    expect(handlers.values()).toEqual([1, 2, 2]);
    await broker.until(() => broker.pubacks(1).length === 1);
    handlers.stored[2]();
    await broker.until(() => broker.pubacks(1).length === 2);
    expect(broker.pubacks(1)).toEqual([1, 2]);
  });

  it('acknowledges a redelivery of a message still being stored once that copy is stored, without taking it twice', async () => {
    broker.publish(7, 1);
    await handlers.count(1);
    broker.sessionPresent = true;
    broker.drop(); // before the message is stored
    await broker.until(() => broker.connections.length === 2 && broker.connections[1].length > 0);

    broker.publish(7, 1, true);
    await roundTrip(1, 'barrier/3');
    expect(handlers.messages).toHaveLength(1);
    expect(broker.pubacks(1)).toEqual([]);

    handlers.stored[0]();
    await broker.until(() => broker.pubacks(1).length === 1);
    expect(broker.pubacks(1)).toEqual([7]);
    expect(broker.pubacks(0)).toEqual([]);
  });

  it('with a share group, subscribes first thing again on a session the broker kept, within a second', async () => {
    await sut.stop();
    sut = new ExternalBroker({ url: `mqtt://127.0.0.1:${broker.port}`, shareGroup: 'iot-api' });
    await sut.start(handlers);
    const first = broker.connections.length - 1;
    expect(broker.connections[first].map((p) => p.cmd)).toEqual(['connect', 'subscribe']);

    // A restarted Mosquitto 2.0 restores the session without its shared subscriptions.
    broker.sessionPresent = true;
    const dropped = Date.now();
    broker.drop();
    await broker.until(() => broker.connections.length === first + 2 && broker.connections[first + 1].length >= 2);
    expect(Date.now() - dropped).toBeLessThan(1_000);
    const [connect, subscribe] = broker.connections[first + 1];
    expect(connect.cmd).toBe('connect');
    expect(subscribe.cmd === 'subscribe' && subscribe.subscriptions.map((s) => s.topic)).toEqual(
      expect.arrayContaining(['$share/iot-api/devices/+/telemetry']),
    );
  });
});
