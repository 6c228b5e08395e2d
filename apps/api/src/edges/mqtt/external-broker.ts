import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import mqtt, { type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { PLATFORM_SUBSCRIPTIONS, parseTopic } from '@iot/protocol';
import { AckQueue } from './ack-queue';
import { RedeliveryFilter } from './redelivery-filter';
import { DeviceTransport, type PublishOptions, type TransportHandlers } from '../../core/device-transport';

/** How long the broker keeps the api's MQTT 5 session (subscriptions, queued messages) while the api is away. */
const SESSION_EXPIRY_SECONDS = 600;
/**
 * MQTT 5: QoS 1 messages the broker may send the api before it has their
 * PUBACKs. A PUBACK waits for the commit, so this is what one commit can take
 * in: large enough that the window is not what limits throughput, small
 * enough to bound what the api holds unacknowledged. On 3.1.1 the broker's own
 * limit applies (Mosquitto's max_inflight_messages, 20 by default).
 */
const RECEIVE_MAXIMUM = 5_000;
/**
 * How often the api tries to reach a broker that went away. Short, because on
 * Mosquitto 2.0 a restarted broker drops device messages on shared topics
 * until the api has subscribed again (see the connect handler): the api must be
 * back before the devices, which the device SDK has retry no sooner than 2 s.
 */
const RECONNECT_PERIOD_MS = 250;
/** Given to MQTT.js's `handleMessage` callback: it then sends no PUBACK of its own (the AckQueue does). */
const ACKNOWLEDGED_LATER = new Error('acknowledged once stored');

/**
 * A client of an external broker (Mosquitto, EMQX), used when MQTT_URL is set.
 * It speaks MQTT 5 and falls back to 3.1.1 if the broker refuses 5. Device
 * authentication and ACLs are the broker's job in this mode; presence comes
 * from the retained status topic and its will. With MQTT_SHARE_GROUP,
 * device topics are taken through a shared subscription
 * (`$share/{group}/…`), so with several replicas the broker gives each
 * device message to one of them.
 */
export class ExternalBroker extends DeviceTransport {
  readonly kind = 'external' as const;
  readonly port = undefined;
  private readonly logger = new Logger(ExternalBroker.name);
  private client: MqttClient | undefined;
  private subscribed = false;
  /** Whether "cannot be reached" was logged since the last connect: one line per outage, not one per attempt. */
  private unreachableLogged = false;
  private readonly redeliveries = new RedeliveryFilter();
  /** The PUBACKs owed on the current connection. */
  private acks: AckQueue | undefined;
  private readonly clientId: string;
  /** Listeners for messages on `extraSubscriptions` (topics outside the contract, e.g. dynsec answers). */
  private readonly extraListeners: Array<(topic: string, payload: Buffer) => void> = [];

  constructor(
    private readonly options: {
      url: string;
      username?: string;
      password?: string;
      /** Stable per replica, so that a restarted one resumes its session; random when not given. */
      clientId?: string;
      /** The shared-subscription group of device topics; plain subscriptions when not given. */
      shareGroup?: string;
      extraSubscriptions?: string[];
    },
  ) {
    super();
    this.clientId = options.clientId ?? `iot-api-${randomBytes(6).toString('hex')}`;
  }

  /** Calls `listener` with every message on the extra subscriptions. */
  onExtraMessage(listener: (topic: string, payload: Buffer) => void): void {
    this.extraListeners.push(listener);
  }

  get ready(): boolean {
    return this.client?.connected === true && this.subscribed;
  }

  /**
   * Resolves once connected and subscribed, or at once when the broker cannot
   * be reached (the client keeps trying, `/readyz` says not ready); rejects
   * when the broker refuses the api.
   */
  start(handlers: TransportHandlers): Promise<void> {
    return this.open(5, handlers);
  }

  private open(protocolVersion: 4 | 5, handlers: TransportHandlers): Promise<void> {
    const v5 = protocolVersion === 5;
    const client = mqtt.connect(this.options.url, {
      protocolVersion,
      clientId: this.clientId,
      username: this.options.username,
      password: this.options.password,
      // MQTT 5: a session that outlives a lost connection or a broker restart (with the broker's persistence on), so
      // the broker keeps the subscriptions and queues device messages meanwhile. Its expiry bounds what a stopped api
      // leaves behind; 3.1.1 sessions have no expiry, so those stay clean.
      clean: !v5,
      ...(v5 && { properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS, receiveMaximum: RECEIVE_MAXIMUM } }),
      // Subscribed below whenever the broker has no session for the api; MQTT.js's own resubscription is not needed.
      resubscribe: false,
      reconnectPeriod: RECONNECT_PERIOD_MS,
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
    });
    this.client = client;
    let connectedOnce = false;
    // MQTT.js hands messages here one at a time and sends a QoS 1 message's PUBACK when the callback is called
    // without an error, taking the next message only then. Waiting there for the commit would hold ingest to one
    // message per commit; so every message is let through at once, MQTT.js is told to send no PUBACK, and the
    // AckQueue sends it once the message is stored.
    client.handleMessage = (packet, callback) => {
      callback(this.receive(client, packet, handlers) ? ACKNOWLEDGED_LATER : undefined);
    };
    client.on('offline', () => this.logger.warn('MQTT: connection to the broker lost; reconnecting'));
    client.on('close', () => {
      this.subscribed = false;
      // Whatever is still owed, the broker delivers again on the next connection (to a persistent session).
      if (this.client !== client) return; // a client given up for 3.1.1
      this.acks?.end();
      this.acks = undefined;
    });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        if (error) reject(error);
        else resolve();
      };
      client.on('connect', (connack) => {
        // MQTT.js leaves Nagle's algorithm on: a PUBACK or a command would wait for the broker's delayed ACK.
        (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
        connectedOnce = true;
        this.unreachableLogged = false;
        this.acks?.end();
        this.acks = this.ackQueue(client);
        this.logger.log(`MQTT: connected to ${this.options.url} (v${v5 ? '5' : '3.1.1'})`);
        if (!connack.sessionPresent) this.redeliveries.clear();
        // Mosquitto 2.0 restores a session from its persistence without its shared subscriptions, and drops device
        // messages until they are made again. This is the first packet on the connection, unless the api has QoS 1
        // publishes of its own outstanding: MQTT.js sends those again first and emits `connect` once they are acked.
        if (connack.sessionPresent && !this.options.shareGroup) {
          this.subscribed = true;
          return settle();
        }
        const group = this.options.shareGroup;
        const deviceTopics = PLATFORM_SUBSCRIPTIONS.map((filter) => (group ? `$share/${group}/${filter}` : filter));
        client.subscribe(
          [...deviceTopics, ...(this.options.extraSubscriptions ?? [])],
          { qos: 1 },
          (error) => {
            if (error) {
              this.logger.warn(`MQTT: subscribing failed: ${error.message}`);
              return settle(error);
            }
            this.subscribed = client.connected;
            settle();
          },
        );
      });
      client.on('error', (error: Error & { code?: string | number }) => {
        if (typeof error.code === 'string') {
          // The broker cannot be reached (yet): start anyway and keep trying.
          if (!this.unreachableLogged) this.logger.warn(`MQTT: ${error.message}; retrying`);
          this.unreachableLogged = true;
          return settle();
        }
        this.logger.warn(`MQTT: ${error.message}`);
        if (connectedOnce || this.client !== client) return;
        // Refused before this client ever got in: try MQTT 3.1.1 once, then give up.
        client.end(true);
        if (!v5) return settle(error);
        this.logger.warn(`MQTT 5 refused (${error.message}); falling back to MQTT 3.1.1`);
        this.open(4, handlers).then(() => settle(), settle);
      });
    });
  }

  /** A message from the broker; true when its PUBACK is left to the AckQueue (QoS 1: once stored). */
  private receive(client: MqttClient, packet: IPublishPacket, handlers: TransportHandlers): boolean {
    const topic = packet.topic;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const acks = this.acks;
    if (packet.qos !== 1 || packet.messageId === undefined || !acks || this.client !== client) {
      this.deliver(topic, payload, handlers, undefined);
      return false;
    }
    const stored = this.redeliveries.take(packet.messageId, packet.dup, topic, payload, acks.add(packet.messageId));
    // Undefined for a message taken already: acknowledged with that copy, not taken twice.
    if (stored) this.deliver(topic, payload, handlers, stored);
    return true;
  }

  private deliver(
    topic: string,
    payload: Buffer,
    handlers: TransportHandlers,
    stored: ((error?: Error) => void) | undefined,
  ): void {
    const parsed = parseTopic(topic);
    if (!parsed) {
      if (topic.startsWith('$')) for (const listener of this.extraListeners) listener(topic, payload);
      stored?.();
      return;
    }
    handlers.onMessage(
      { deviceId: parsed.deviceId, topic: parsed, rawTopic: topic, payload, receivedAt: Date.now() },
      stored,
    );
  }

  /**
   * The PUBACKs of the connection just made. A message that could not be
   * stored is not acknowledged: the connection is dropped, and the client
   * reconnects to its session, where the broker delivers it again.
   */
  private ackQueue(client: MqttClient): AckQueue {
    const stream = client.stream;
    return new AckQueue(
      (packets) => {
        if (client.stream === stream && client.connected) stream.write(packets);
      },
      () => {
        this.logger.warn('MQTT: a message could not be stored; reconnecting so that the broker delivers it again');
        stream.destroy();
      },
    );
  }

  async publish(topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('not connected to the MQTT broker');
    const publishOptions: IClientPublishOptions = { qos: options.qos, retain: options.retain ?? false };
    if (client.options.protocolVersion === 5 && (options.responseTopic || options.correlationData)) {
      publishOptions.properties = { responseTopic: options.responseTopic, correlationData: options.correlationData };
    }
    await client.publishAsync(topic, payload, publishOptions);
  }

  acceptsCommands(_deviceId: string, online: boolean): boolean {
    return online;
  }

  disconnect(deviceId: string): void {
    // Sessions live in the external broker; revoke them there (e.g. Mosquitto's dynamic security).
    this.logger.debug(`cannot drop ${deviceId}'s session on an external broker`);
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    // An orderly stop ends the session at once rather than leaving the broker to queue messages until it expires.
    const v5 = client.options.protocolVersion === 5 && client.connected;
    await client.endAsync(false, v5 ? { properties: { sessionExpiryInterval: 0 } } : {});
  }
}
