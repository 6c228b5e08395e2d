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
import { RateLimitedLog } from '../../platform/logging/rate-limited-log';
import type { DeviceAuthService } from '../../core/devices/device-auth.service';
import { DeviceTransport, type PublishOptions, type TransportHandlers } from '../../core/device-transport';
import { TurnCorker } from '../../platform/net/turn-corker';

/** What a CONNECT may carry at most (client id, credentials, will): far below any real one. */
const MAX_CONNECT_BYTES = 64 * 1024;
/** Packets a client may send after its CONNECT and before its CONNACK (MQTT allows pipelining them). */
const MAX_QUEUED_BEFORE_CONNACK = 100;
/** What those packets may hold together, in packets of the full size (see `guardPackets`). */
const MAX_QUEUED_PACKETS_OF_FULL_SIZE = 2;
/**
 * QoS 2 PUBLISHes of one connection received and not yet released (PUBREL):
 * past this aedes closes the connection. Only their ids and topics are held.
 */
export const MAX_QOS2_IN_FLIGHT = 100;
/** A connection that sends no CONNECT within this long is dropped. */
const CONNECT_TIMEOUT_MS = 5_000;

/** The slice of mqtt-packet's parser state the packet guard reads. */
interface ParserState {
  parse(buf: Buffer): number;
  packet: { length: number; cmd?: string };
  _list: { length: number };
  /** Packets parsed before the client is connected, waiting for authentication. */
  _queue: unknown[] | null;
  on(event: 'packet', listener: (packet: { length: number; clientId?: string }) => void): void;
  removeListener(event: 'packet', listener: (packet: { length: number; clientId?: string }) => void): void;
}

/** The aedes client internals the broker reads. */
type AedesClient = Client & {
  _parser: ParserState;
  /** Stops reading the socket until `resume` (aedes resumes once CONNACK is out). */
  pause(): void;
  connackSent: boolean;
  /** Restored and granted subscriptions by filter (a null-prototype object). */
  subscriptions: Record<string, unknown>;
  /** Message ids of QoS 2 PUBLISHes stored and awaiting PUBREL. */
  _inboundInflight: Set<number>;
};

/** The part of aedes' persistence the broker touches (the in-memory one). */
interface IncomingStore {
  incomingStorePacket(client: Client, packet: PublishPacket): Promise<void>;
  incomingGetPacket(client: Client, packet: { messageId?: number }): Promise<unknown>;
  cleanIncoming?(client: Client): Promise<void>;
  storeRetained(packet: PublishPacket): Promise<void>;
}

const EMPTY = Buffer.alloc(0);

interface ConnectAuthError extends Error {
  returnCode: number;
}

/** aedes' publish as its client handlers call it (the typings show only the public two-argument form). */
type RoutePublish = (
  packet: PublishPacket,
  client?: Client | null | ((error?: Error) => void),
  done?: (error?: Error) => void,
) => void;

/** `authorizePublish` handed the message to the api, which calls back once it is stored. */
const HANDED = Symbol('handed');

/** The filters that subscribe a device to its commands. */
function commandsFilters(deviceId: string): string[] {
  return [topics.commandsFilter(deviceId), `devices/${deviceId}/commands/#`];
}

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
  /** Refused CONNECTs and closed connections, at warn; bounded so a flood cannot fill the disk. */
  private readonly refusals = new RateLimitedLog('refused device connections', (fields, message) =>
    this.logger.warn(fields, message),
  );
  private broker: Aedes | undefined;
  private server: Server | undefined;
  private handlers: TransportHandlers | undefined;
  private readonly sessions = new Map<string, Client>();
  /** Devices whose session holds a subscription to their commands. */
  private readonly commandSubscribers = new Set<string>();
  /** Device publishes taken by the api that no session may receive (see `skipRouting`). */
  private readonly taken = new WeakSet<PublishPacket>();
  private readonly corker = new TurnCorker('immediate');
  private boundPort: number | undefined;
  /** aedes' persistence (in memory). */
  private store: IncomingStore | undefined;

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
      maxInflightInbound: MAX_QOS2_IN_FLIGHT,
      // aedes' own cap on packets waiting for CONNACK (default 42) is only a backstop: `guardPackets` counts and logs.
      queueLimit: 2 * MAX_QUEUED_BEFORE_CONNACK,
      authenticate: (client, username, password, done) => {
        this.authenticate(client, username, password).then(
          () => done(null, true),
          (error: ConnectAuthError) => done(error, false),
        );
      },
      // aedes handles the packets of one socket read together and reads the next
      // chunk only once all of them are done, so holding `done` slows that device
      // down by TCP. For QoS 1 aedes writes the PUBACK (QoS 2: PUBREC) right after
      // `done`, so it is called only once the message is committed: a PUBACK means
      // stored. A device keeps sending meanwhile; what arrives is read as one
      // chunk after the commit, so a pipelining device is not held to one
      // message per commit. QoS 0 takes the fast path: nothing to wait for.
      authorizePublish: (client, packet, done) => {
        if (packet.qos === 0) {
          const refusal = this.authorizePublish(client, packet, undefined) as Error | null; // never HANDED without `stored`
          const wait = refusal ? undefined : this.handlers?.backpressure();
          if (wait) void wait.then(() => done(null));
          else done(refusal);
        } else if (packet.qos === 2 && packet.dup && client && this.store) {
          // A resent QoS 2 PUBLISH already stored and acknowledged (PUBREC) is not taken twice.
          this.store.incomingGetPacket(client, packet).then(
            () => done(null),
            () => this.authorizeAcknowledged(client, packet, done),
          );
        } else {
          this.authorizeAcknowledged(client, packet, done);
        }
      },
      authorizeSubscribe: (client, subscription, done) => done(null, this.authorizeSubscribe(client, subscription)),
    });
    this.skipRouting(broker);
    this.keepNoPayloads(broker);
    broker.on('clientReady', (client) => {
      const previous = this.sessions.get(client.id);
      this.sessions.set(client.id, client);
      if (previous === undefined) handlers.onSession(client.id, true);
      // A persistent session's subscriptions are restored (and their 'subscribe'
      // emitted) before the client is ready, so look at them now.
      const subscriptions = (client as AedesClient).subscriptions;
      if (commandsFilters(client.id).some((filter) => Object.hasOwn(subscriptions, filter))) {
        this.commandSubscribers.add(client.id);
        handlers.onCommandsSubscribed(client.id);
      } else if (previous !== undefined) {
        this.commandSubscribers.delete(client.id);
      }
    });
    broker.on('clientDisconnect', (client) => {
      // A session taken over by a newer connection of the same device is not a disconnect.
      if (this.sessions.get(client.id) !== client) return;
      this.sessions.delete(client.id);
      this.commandSubscribers.delete(client.id);
      // QoS 2 exchanges left half-done are not kept past the connection, persistent session or not.
      if (!client.clean) this.store?.cleanIncoming?.(client).catch(() => undefined);
      handlers.onSession(client.id, false);
    });
    broker.on('subscribe', (subscriptions, client) => {
      // Before 'clientReady' these are a persistent session's, restored: 'clientReady' reads them.
      if (!client || this.sessions.get(client.id) !== client) return;
      const filters = commandsFilters(client.id);
      if (subscriptions.some((s) => (s.qos as number) !== 128 && filters.includes(s.topic))) {
        this.commandSubscribers.add(client.id);
        handlers.onCommandsSubscribed(client.id);
      }
    });
    broker.on('unsubscribe', (unsubscriptions, client) => {
      if (!client || this.sessions.get(client.id) !== client) return;
      const subscriptions = (client as AedesClient).subscriptions;
      if (!commandsFilters(client.id).some((filter) => Object.hasOwn(subscriptions, filter)))
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

  /**
   * aedes keeps each QoS 2 PUBLISH, payload and all, from PUBREC until PUBREL
   * only to spot a resent one. The platform has taken the message by then, so
   * the id and topic are enough: a client that never sends PUBREL pins no payloads.
   */
  private keepNoPayloads(broker: Aedes): void {
    const store = (broker as unknown as { persistence: IncomingStore }).persistence;
    this.store = store;
    const keep = store.incomingStorePacket.bind(store);
    store.incomingStorePacket = (client, packet) => keep(client, { ...packet, payload: EMPTY });
  }

  /** For QoS 1 and 2: `done` (and with it PUBACK or PUBREC) once the api has stored the message. */
  private authorizeAcknowledged(
    client: Client | null,
    packet: PublishPacket,
    done: (error: Error | null) => void,
  ): void {
    const refusal = this.authorizePublish(client, packet, (error) => {
      if (error) return done(error);
      const wait = this.handlers?.backpressure();
      if (wait) void wait.then(() => done(null));
      else done(null);
    });
    if (refusal !== HANDED) done(refusal);
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    // A device's packets written in one turn (commands, PUBACKs) leave in one write.
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((...args: unknown[]) => {
      this.corker.cork(socket);
      return write(...args);
    }) as Socket['write'];
    const client = this.broker?.handle(socket) as AedesClient | undefined;
    if (!client) {
      socket.destroy();
      return;
    }
    this.guardPackets(client, socket);
  }

  /**
   * aedes buffers a packet until it is whole, whatever size it announces, and
   * queues the packets that arrive before authentication ends. After each
   * chunk, look at the parser: the first packet (the CONNECT) may announce at
   * most 64 KiB; every later one up to the packet cap, whether or not CONNACK
   * has gone out (a client may send its first PUBLISH in the same write as its
   * CONNECT). Until CONNACK, the packets waiting for it are bounded in count
   * and bytes. (A first packet that is not CONNECT waits in that queue until
   * the connect timeout closes the connection.)
   */
  private guardPackets(client: AedesClient, socket: Socket): void {
    const parser = client._parser;
    const maxPacket = this.options.maxPacketBytes ?? LIMITS.maxPacketBytes;
    const maxQueuedBytes = MAX_QUEUED_PACKETS_OF_FULL_SIZE * maxPacket;
    let packets = 0;
    let queuedBytes = 0;
    let clientId = '';
    const onPacket = (packet: { length: number; clientId?: string }) => {
      if (packets++ === 0) {
        clientId = typeof packet.clientId === 'string' ? packet.clientId.slice(0, 64) : '';
        // aedes pauses reading only once authentication starts, a turn later: a socket
        // read in between would hand the next packet (the rest of a large PUBLISH) to
        // the handlers before the client has an id, and it would be refused as foreign.
        // Paused now, it waits for CONNACK (aedes resumes then).
        client.pause();
      } else if (!client.connackSent) {
        queuedBytes += packet.length;
      } else {
        parser.removeListener('packet', onPacket); // nothing to count after CONNACK: aedes' listener alone
      }
    };
    parser.on('packet', onPacket);
    const refuse = (reason: string, error: string) => {
      const address = socket.remoteAddress;
      this.refusals.log(
        `${clientId}\n${address}`,
        { deviceId: clientId || undefined, address, reason },
        `connection of ${clientId ? `client ${JSON.stringify(clientId)}` : 'a client'} closed: ${error}`,
      );
      this.handlers?.onRejected('', '', reason, error);
      socket.destroy();
    };
    const parse = parser.parse.bind(parser);
    parser.parse = (buf: Buffer) => {
      const result = parse(buf);
      if (socket.destroyed) return result;
      if (packets === 0) {
        if (parser.packet.length > MAX_CONNECT_BYTES)
          refuse('packet_too_large', `CONNECT over ${MAX_CONNECT_BYTES} bytes`);
      } else if (parser.packet.length > maxPacket) {
        refuse('packet_too_large', `packet over ${maxPacket} bytes`);
      } else if (!client.connackSent) {
        if (
          (parser._queue?.length ?? 0) > MAX_QUEUED_BEFORE_CONNACK ||
          queuedBytes + parser.packet.length > maxQueuedBytes
        ) {
          refuse(
            'too_many_packets_before_connack',
            `more than ${MAX_QUEUED_BEFORE_CONNACK} packets or ${maxQueuedBytes} bytes before CONNACK`,
          );
        }
      }
      return result;
    };
  }

  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<void> {
    const address = (client as unknown as { conn: Socket }).conn.remoteAddress;
    // [MQTT-3.1.3-8] a server may refuse any client id: ours must be the device id, never empty.
    if (!client.id || !DEVICE_ID_PATTERN.test(client.id))
      throw this.refused(client.id, address, authError(2, 'client id must be the device id'));
    if (username !== client.id)
      throw this.refused(client.id, address, authError(4, 'username must equal the client id'));
    switch (await this.auth.authenticate(username, password, address)) {
      case 'ok':
        return;
      case 'refused':
        throw this.refused(username, address, authError(4, 'bad device id or secret'));
      case 'throttled':
        this.handlers?.onRejected('', '', 'auth_throttled', `too many failed CONNECTs for ${username}`);
        throw this.refused(username, address, authError(3, 'too many failed attempts: retry later'));
      case 'busy':
        this.handlers?.onRejected('', '', 'auth_busy', 'too many CONNECTs waiting for a secret check');
        throw this.refused(username, address, authError(3, 'busy: retry later'));
    }
  }

  /** Logs a refused CONNECT (never its password) and returns the error for its CONNACK. */
  private refused(clientId: string, address: string | undefined, error: ConnectAuthError): ConnectAuthError {
    // The client id is the device's, or whatever the client sent: bounded as aedes bounds it.
    const deviceId = (clientId ?? '').slice(0, 64);
    this.refusals.log(
      `${deviceId}\n${address}`,
      { deviceId, address, returnCode: error.returnCode },
      `device CONNECT refused: ${error.message}`,
    );
    return error;
  }

  /**
   * Checks a device's publish and hands it to the api. Returns the refusal,
   * null when aedes may go on at once, or HANDED when `stored` was given and
   * the api will call it. Nothing a device publishes is retained: the contract
   * has no use for it (presence comes from the session), and a retained store
   * fed by devices would be unbounded.
   */
  private authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    stored: ((error?: Error) => void) | undefined,
  ): Error | null | typeof HANDED {
    const handlers = this.handlers;
    if (!handlers) return new Error('broker is starting');
    packet.retain = false;
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
    handlers.onMessage(
      {
        deviceId: client.id,
        topic,
        rawTopic: packet.topic,
        payload: packet.payload as Buffer,
        receivedAt: Date.now(),
      },
      stored,
    );
    return stored ? HANDED : null;
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
    this.refusals.close();
    if (server) {
      const sessions = this.sessions.size;
      for (const client of this.sessions.values()) client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      this.logger.log({ deviceSessions: sessions }, `embedded MQTT broker stopped: closed ${sessions} device sessions`);
    }
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
  }
}
