import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
// aedes 1.x is ESM-only: Node 20.19+ loads it through require(esm), jest through a transform.
import { Aedes, type Client, type PublishPacket, type Subscription } from 'aedes';
import {
  DEVICE_ID_PATTERN,
  LIMITS,
  DEVICE_PUBLISH_KINDS,
  PLATFORM_ONLY_KINDS,
  deviceSubscriptionAllowed,
  parseTopic,
  topics,
} from '@iot/protocol';
import type { DeviceAuthService } from './device-auth.service';
import { DeviceTransport, type PublishOptions, type TransportHandlers } from './transport';

/** What a CONNECT may carry at most (client id, credentials, will): far below any real one. */
const MAX_CONNECT_BYTES = 64 * 1024;
/** Packets a client may send before its CONNACK (MQTT allows pipelining them). */
const MAX_QUEUED_BEFORE_CONNACK = 100;
/** A connection that sends no CONNECT within this long is dropped. */
const CONNECT_TIMEOUT_MS = 5_000;

/** The slice of mqtt-packet's parser state the packet guard reads. */
interface ParserState {
  parse(buf: Buffer): number;
  packet: { length: number; cmd?: string };
  _list: { length: number };
  /** Packets parsed before the client is connected, waiting for authentication. */
  _queue: unknown[] | null;
}

interface ConnectAuthError extends Error {
  returnCode: number;
}

/** aedes' publish as its client handlers call it (the typings show only the public two-argument form). */
type RoutePublish = (
  packet: PublishPacket,
  client?: Client | null | ((error?: Error) => void),
  done?: (error?: Error) => void,
) => void;

function authError(returnCode: number, message: string): ConnectAuthError {
  return Object.assign(new Error(message), { returnCode });
}

/**
 * The embedded MQTT broker (aedes, MQTT 3.1.1), used when MQTT_URL is unset.
 * Devices authenticate with their id and secret, may touch only their own
 * topics, and their messages are handed to the api in-process, straight from
 * aedes' publish authorisation: no second MQTT client, no extra parse.
 */
export class EmbeddedBroker extends DeviceTransport {
  readonly kind = 'embedded' as const;
  private readonly logger = new Logger(EmbeddedBroker.name);
  private broker: Aedes | undefined;
  private server: Server | undefined;
  private handlers: TransportHandlers | undefined;
  private readonly sessions = new Map<string, Client>();
  /** Devices whose session holds a subscription to their commands. */
  private readonly commandSubscribers = new Set<string>();
  /** Device publishes taken by the api that no session may receive (see `skipRouting`). */
  private readonly taken = new WeakSet<PublishPacket>();
  private boundPort: number | undefined;

  constructor(
    private readonly auth: DeviceAuthService,
    private readonly options: { port: number; host: string; maxPacketBytes?: number },
  ) {
    super();
  }

  get ready(): boolean {
    return this.server?.listening === true;
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  async start(handlers: TransportHandlers): Promise<void> {
    this.handlers = handlers;
    const broker = await Aedes.createBroker({
      id: 'iot-embedded',
      connectTimeout: CONNECT_TIMEOUT_MS,
      // One subscriber that stops reading must not stall a topic for a minute.
      drainTimeout: 2_000,
      maxClientsIdLength: 64,
      heartbeatInterval: 60_000,
      authenticate: (client, username, password, done) => {
        this.authenticate(client, username, password).then(
          () => done(null, true),
          (error: ConnectAuthError) => done(error, false),
        );
      },
      // aedes reads a client's next packets only once this one is done, so holding
      // `done` while the event log is congested is TCP backpressure on that device.
      authorizePublish: (client, packet, done) => {
        const refusal = this.authorizePublish(client, packet);
        const wait = refusal ? undefined : this.handlers?.backpressure();
        if (wait) void wait.then(() => done(null));
        else done(refusal);
      },
      authorizeSubscribe: (client, subscription, done) => done(null, this.authorizeSubscribe(client, subscription)),
    });
    this.skipRouting(broker);
    broker.on('clientReady', (client) => {
      const previous = this.sessions.get(client.id);
      this.sessions.set(client.id, client);
      if (previous === undefined) handlers.onSession(client.id, true);
    });
    broker.on('clientDisconnect', (client) => {
      // A session taken over by a newer connection of the same device is not a disconnect.
      if (this.sessions.get(client.id) !== client) return;
      this.sessions.delete(client.id);
      this.commandSubscribers.delete(client.id);
      handlers.onSession(client.id, false);
    });
    broker.on('subscribe', (subscriptions, client) => {
      if (!client || this.sessions.get(client.id) !== client) return;
      const commands = topics.commandsFilter(client.id);
      if (subscriptions.some((s) => s.topic === commands || s.topic === `devices/${client.id}/commands/#`)) {
        this.commandSubscribers.add(client.id);
        handlers.onCommandsSubscribed(client.id);
      }
    });
    broker.on('unsubscribe', (unsubscriptions, client) => {
      if (client && unsubscriptions.includes(topics.commandsFilter(client.id)))
        this.commandSubscribers.delete(client.id);
    });
    broker.on('clientError', (client, error) => this.logger.debug(`client ${client?.id ?? '?'}: ${error.message}`));
    broker.on('connectionError', (_client, error) => this.logger.debug(`connection refused: ${error.message}`));
    this.broker = broker;

    const server = createServer((socket) => this.accept(socket));
    server.on('error', (error) => this.logger.error(`MQTT listener: ${error.message}`));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    this.logger.log(`embedded MQTT broker listening on ${this.options.host}:${this.boundPort}`);
  }

  /**
   * Only devices have sessions here, and no device may subscribe to another's
   * topics or to its own telemetry, state reports or status (PLATFORM_ONLY_KINDS).
   * Once the api has taken such a publish, routing it (a packet copy, a topic
   * match against every subscription, the retained store) would reach nobody,
   * so it ends there; aedes still acknowledges QoS 1 and 2 as before.
   */
  private skipRouting(broker: Aedes): void {
    const route = broker.publish.bind(broker) as RoutePublish;
    const publish: RoutePublish = (packet, client, done) => {
      if (this.taken.delete(packet)) (typeof client === 'function' ? client : done)?.();
      else route(packet, client, done);
    };
    (broker as unknown as { publish: RoutePublish }).publish = publish;
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    const client = this.broker?.handle(socket) as (Client & { _parser: ParserState; connected: boolean }) | undefined;
    if (!client) {
      socket.destroy();
      return;
    }
    this.guardPackets(client, socket);
  }

  /**
   * aedes buffers a packet until it is whole, whatever size it announces, and
   * queues the packets that arrive before authentication ends. After each
   * chunk, look at the parser: before CONNACK a packet may announce at most
   * 64 KiB and only a few may wait; after it, no packet may pass the cap.
   * (A first packet that is not CONNECT waits in that queue until the
   * connect timeout closes the connection.)
   */
  private guardPackets(client: { _parser: ParserState; connected: boolean }, socket: Socket): void {
    const parser = client._parser;
    const maxPacket = this.options.maxPacketBytes ?? LIMITS.maxPacketBytes;
    const parse = parser.parse.bind(parser);
    parser.parse = (buf: Buffer) => {
      const result = parse(buf);
      if (!client.connected) {
        if (parser.packet.length > MAX_CONNECT_BYTES || (parser._queue?.length ?? 0) > MAX_QUEUED_BEFORE_CONNACK) {
          socket.destroy();
        }
      } else if (parser.packet.length > maxPacket) {
        this.handlers?.onRejected('', '', 'packet_too_large', `packet over ${maxPacket} bytes`);
        socket.destroy();
      }
      return result;
    };
  }

  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<void> {
    // [MQTT-3.1.3-8] a server may refuse any client id: ours must be the device id, never empty.
    if (!client.id || !DEVICE_ID_PATTERN.test(client.id)) throw authError(2, 'client id must be the device id');
    if (username !== client.id) throw authError(4, 'username must equal the client id');
    if (!(await this.auth.verify(username, password))) throw authError(4, 'bad device id or secret');
  }

  private authorizePublish(client: Client | null, packet: PublishPacket): Error | null {
    const handlers = this.handlers;
    if (!handlers) return new Error('broker is starting');
    if (client === null) {
      // A will left by a session that ended while the broker was away: only status wills are ours.
      return parseTopic(packet.topic)?.kind === 'status' ? null : new Error('not authorised');
    }
    const topic = parseTopic(packet.topic);
    if (!topic || topic.deviceId !== client.id || !DEVICE_PUBLISH_KINDS.has(topic.kind)) {
      handlers.onRejected(client.id, packet.topic, 'forbidden_topic', `devices may publish only to their own topics`);
      // MQTT 3.1.1 has no negative PUBACK; closing the connection is the refusal [MQTT-3.3.5-2].
      return new Error('not authorised');
    }
    if (PLATFORM_ONLY_KINDS.has(topic.kind)) this.taken.add(packet);
    handlers.onMessage({
      deviceId: client.id,
      topic,
      rawTopic: packet.topic,
      payload: packet.payload as Buffer,
      receivedAt: Date.now(),
    });
    return null;
  }

  private authorizeSubscribe(client: Client, subscription: Subscription): Subscription | null {
    if (deviceSubscriptionAllowed(client.id, subscription.topic)) return subscription;
    this.handlers?.onRejected(
      client.id,
      subscription.topic,
      'forbidden_subscription',
      'devices may subscribe only to their own topics',
    );
    return null; // SUBACK 0x80 for this filter; the session stays up.
  }

  publish(topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> {
    const broker = this.broker;
    if (!broker) return Promise.reject(new Error('broker is not running'));
    return new Promise((resolve, reject) => {
      broker.publish(
        {
          cmd: 'publish',
          topic,
          payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
          qos: options.qos,
          retain: options.retain ?? false,
          dup: false,
        },
        (error) => (error ? reject(error) : resolve()),
      );
    });
  }

  acceptsCommands(deviceId: string): boolean {
    return this.commandSubscribers.has(deviceId);
  }

  disconnect(deviceId: string): void {
    const client = this.sessions.get(deviceId);
    client?.close();
  }

  async stop(): Promise<void> {
    const server = this.server;
    const broker = this.broker;
    this.server = undefined;
    this.broker = undefined;
    if (server) {
      for (const client of this.sessions.values()) client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
  }
}
