import { Socket } from 'node:net';
import {
  connect as mqttConnect,
  type IClientOptions,
  type IClientPublishOptions,
  type IConnackPacket,
  type IPublishPacket,
  type ISubscriptionMap,
  type MqttClient,
} from 'mqtt';
import type { z } from 'zod';
import {
  commandMessageSchema,
  commandNameSchema,
  desiredStateDocumentSchema,
  errorNoticeSchema,
  isDeviceId,
  LIMITS,
  parseTelemetry,
  parseTopic,
  topics,
  type CommandResult,
  type DesiredStateDocument,
  type DeviceStatus,
  type ErrorNotice,
  type JsonObject,
  type TelemetryValues,
  type timedTelemetrySchema,
} from '@iot/protocol';
import type { CommandNameOf, CommandParamsOf, DefinedModel, ReportedPatchOf } from './model';
import { TypedEventEmitter } from './typed-emitter';

/** How long {@link DeviceClient.close} waits for the broker to take `offline` before it drops the connection. */
const CLOSE_TIMEOUT_MS = 2000;
/** How many command ids a client remembers, to run a redelivered QoS 1 command only once. */
const REMEMBERED_COMMANDS = 1000;
/** The `error` field of a command result holds at most this many characters. */
const MAX_RESULT_ERROR_LENGTH = 1024;
/**
 * The default reconnect period is drawn per client from [min, min + spread) ms:
 * a fleet cut off at once comes back spread out, and after the platform, which
 * retries every 250 ms. A restarted broker drops telemetry until the platform
 * has subscribed again (Mosquitto 2.0 does not keep shared subscriptions).
 */
const RECONNECT_PERIOD_MIN_MS = 2000;
const RECONNECT_PERIOD_SPREAD_MS = 2000;
/** MQTT 5 PUBACK reason code: the broker took the message, but no subscription matched it, so nobody got it. */
const NO_MATCHING_SUBSCRIBERS = 16;
/** A message for the platform that no subscription matched is sent again after this, doubling up to the max. */
const UNROUTED_RETRY_FIRST_MS = 250;
const UNROUTED_RETRY_MAX_MS = 4000;
/** How long such a message is sent again before its publish fails. */
const UNROUTED_GIVE_UP_MS = 60_000;

/** Options of {@link connectDevice}. */
export interface ConnectDeviceOptions<M extends DefinedModel | undefined = undefined> {
  /** The broker, such as `mqtt://127.0.0.1:1883`, `mqtts://…`, `ws://…` or `wss://…`. */
  url: string;
  /** The device id: also the MQTT client id and username. */
  deviceId: string;
  /** The device secret the platform issued when the device was registered (or its credentials rotated). */
  password: string;
  /**
   * The device's model ({@link defineModel}): announced on `devices/{id}/model`
   * at every connect, and it types {@link DeviceClient.onCommand} and
   * {@link DeviceClient.reportState}.
   */
  model?: M;
  /**
   * MQTT protocol version: 4 is MQTT 3.1.1 (the default, spoken by every broker the
   * platform supports), 5 is MQTT 5.0 (an external Mosquitto or EMQX only).
   */
  protocolVersion?: 4 | 5;
  /** Keepalive interval in seconds (default 30). */
  keepalive?: number;
  /**
   * Milliseconds between reconnect attempts; 0 turns reconnecting off. By default
   * each client draws its own between 2000 and 4000, so that a fleet does not come
   * back all at once, and comes back after the platform.
   */
  reconnectPeriod?: number;
  /** Milliseconds to wait for CONNACK before giving up on an attempt (default 10000). */
  connectTimeout?: number;
  /**
   * Further MQTT.js options, such as TLS (`ca`, `cert`, `key`, `rejectUnauthorized`).
   * Identity, session and will are set by the SDK and cannot be overridden.
   */
  mqttOptions?: Omit<
    IClientOptions,
    | 'clientId'
    | 'username'
    | 'password'
    | 'will'
    | 'clean'
    | 'resubscribe'
    | 'protocolVersion'
    | 'keepalive'
    | 'reconnectPeriod'
    | 'connectTimeout'
  >;
}

/**
 * A timed telemetry entry as a device sends it (contract form 2):
 * `{ts, values}` with `ts` in epoch milliseconds or an ISO 8601 string.
 */
export type TimedTelemetry = z.input<typeof timedTelemetrySchema>;

/**
 * What {@link DeviceClient.publishTelemetry} sends, in one of the contract's forms:
 * flat values (timed by the platform on receipt), one timed entry, or a batch of either.
 */
export type TelemetryPayload = TelemetryValues | TimedTelemetry | ReadonlyArray<TelemetryValues | TimedTelemetry>;

/** Options of {@link DeviceClient.publishTelemetry}. */
export interface PublishTelemetryOptions {
  /**
   * 0 (the default: at most once) or 1 (at least once; resolves on PUBACK, and on
   * MQTT 5 once a subscription took it: see {@link DeviceClient.publishTelemetry}).
   */
  qos?: 0 | 1;
}

/** What a command handler learns about the command besides its params. */
export interface CommandContext {
  /** The platform's id of this command. */
  commandId: string;
  /** The command name, such as `setpoint.set`. */
  name: string;
  /** When the command was issued, epoch ms. */
  issuedAt: number;
  /** When the platform stops waiting for the device, epoch ms. */
  expiresAt: number;
  /**
   * For a long-running command: answers `in-progress` with how far along it is
   * (0-100, percent) and, with `timeoutMs`, how much longer from now the
   * device needs (the platform then waits that long). The platform takes
   * progress at most once a second unless it comes with a `timeoutMs`.
   */
  progress(percent: number, options?: { timeoutMs?: number }): Promise<void>;
}

/**
 * Runs one command. Its return value (or what its promise resolves to) is the
 * `result` of a `succeeded` answer and must be JSON-serialisable; a thrown error
 * (or a rejection) answers `failed` with the error's message.
 */
export type CommandHandler<P = JsonObject> = (params: P, command: CommandContext) => unknown;

/** Receives the whole desired state document `{version, state}`. */
export type DesiredStateHandler = (document: DesiredStateDocument) => void | Promise<void>;

/** Receives a notice the platform sent on the errors topic: why it refused a message. */
export type ErrorNoticeHandler = (notice: ErrorNotice) => void;

/**
 * Events of a {@link DeviceClient}.
 *
 * - `connect`: the broker accepted the connection, the client subscribed to what
 *   its handlers need, and it published `online`; after every reconnect too.
 * - `reconnect`: a reconnect attempt starts.
 * - `offline`: a live connection went down (network loss, broker restart, a
 *   session dropped by the platform). The client reconnects unless `reconnectPeriod` is 0.
 * - `error`: a connection error (such as `Connection refused: Not authorized`), a
 *   refused subscription, a bad document from the platform, or a handler that threw.
 *   Unlike a bare `EventEmitter`, an `error` with no listener is dropped rather than
 *   thrown, so a device keeps running (and reconnecting) without one.
 */
export type DeviceClientEvents = {
  /** Connected, subscribed and `online` published; `connack` is the broker's CONNACK. */
  connect: (connack: IConnackPacket) => void;
  /** A reconnect attempt starts. */
  reconnect: () => void;
  /** A live connection went down. */
  offline: () => void;
  /** Something went wrong; the client carries on (and reconnects) where it can. */
  error: (error: Error) => void;
};

/**
 * A connected device: a small typed facade over an MQTT.js client that speaks the
 * platform contract (topics, payloads, presence and the command lifecycle).
 * Create it with {@link connectDevice}.
 */
export class DeviceClient<M extends DefinedModel | undefined = undefined> extends TypedEventEmitter<DeviceClientEvents> {
  /** The device id, also its MQTT client id and username. */
  readonly deviceId: string;
  /**
   * The underlying MQTT.js client, for what this facade does not cover. Publishing
   * outside `devices/{deviceId}/` is refused by the platform.
   */
  readonly mqtt: MqttClient;

  /** The model this device announces, if any. */
  readonly model: M;

  private readonly commandHandlers = new Map<string, CommandHandler<unknown>>();
  private readonly desiredHandlers: DesiredStateHandler[] = [];
  private readonly errorHandlers: ErrorNoticeHandler[] = [];
  /** Topic filter → QoS, subscribed on every connect (sessions are clean). */
  private readonly subscriptions = new Map<string, 0 | 1>();
  private readonly recentCommands = new Set<string>();
  /** Packet ids of QoS 1 publishes the broker answered "no matching subscribers" (MQTT 5). */
  private readonly unrouted = new Set<number>();
  private desired: DesiredStateDocument | undefined;
  private desiredJson: string | undefined;
  private ready = false;
  private wasConnected = false;
  private closing: Promise<void> | undefined;
  /** Rejecters of pending {@link waitForConnect} calls, settled by {@link close}. */
  private readonly connectWaiters = new Set<(error: Error) => void>();

  /** Prefer {@link connectDevice}. Starts connecting at once. */
  constructor(options: ConnectDeviceOptions<M>) {
    super();
    if (!isDeviceId(options.deviceId)) {
      throw new Error(
        `invalid device id ${JSON.stringify(options.deviceId)}: use 1-64 letters, digits, _ or -, starting with a letter or digit`,
      );
    }
    this.deviceId = options.deviceId;
    this.model = options.model as M;
    const statusTopic = topics.status(this.deviceId);
    const offline: DeviceStatus = 'offline';
    this.mqtt = mqttConnect(options.url, {
      ...options.mqttOptions,
      // The contract: client id = username = device id, password = device secret.
      clientId: this.deviceId,
      username: this.deviceId,
      password: options.password,
      protocolVersion: options.protocolVersion ?? 4,
      keepalive: options.keepalive ?? 30,
      reconnectPeriod:
        options.reconnectPeriod ?? RECONNECT_PERIOD_MIN_MS + Math.floor(Math.random() * RECONNECT_PERIOD_SPREAD_MS),
      connectTimeout: options.connectTimeout ?? 10_000,
      // Clean sessions: the platform keeps pending commands itself and sends them on connect.
      clean: true,
      // This class subscribes again on every connect, so MQTT.js must not as well.
      resubscribe: false,
      // The broker publishes this if the connection drops without a DISCONNECT [MQTT-3.1.2-8].
      will: { topic: statusTopic, payload: Buffer.from(offline), qos: 1, retain: true },
    });
    this.mqtt.on('connect', (connack) => this.handleConnect(connack));
    this.mqtt.on('reconnect', () => this.emit('reconnect'));
    this.mqtt.on('close', () => this.handleClose());
    this.mqtt.on('error', (error) => this.emitError(error));
    this.mqtt.on('message', (topic, payload, packet) => this.handleMessage(topic, payload, packet));
    // Seen before MQTT.js settles the publish, which it does as for a success. Every PUBACK sets its id's entry, so
    // one left by a publish made outside this class cannot outlive the next use of the id.
    this.mqtt.on('packetreceive', (packet) => {
      if (packet.cmd !== 'puback' || packet.messageId === undefined) return;
      if (packet.reasonCode === NO_MATCHING_SUBSCRIBERS) this.unrouted.add(packet.messageId);
      else this.unrouted.delete(packet.messageId);
    });
  }

  /** Whether the client is connected to the broker right now (and not closing the connection). */
  get connected(): boolean {
    return this.mqtt.connected && !this.mqtt.disconnecting;
  }

  /** The latest desired state document received, if any. */
  get desiredState(): DesiredStateDocument | undefined {
    return this.desired;
  }

  /**
   * Resolves once the client is connected and `online` is published (at once if it
   * already is). Rejects with the first `error` before that, such as a refused
   * CONNACK or an unreachable broker, and if the client is closed first.
   */
  waitForConnect(): Promise<void> {
    if (this.ready && this.mqtt.connected) return Promise.resolve();
    if (this.closing !== undefined) return Promise.reject(new Error('client closed'));
    return new Promise<void>((resolve, reject) => {
      const settle = (error?: Error): void => {
        this.off('connect', onConnect);
        this.off('error', settle);
        this.connectWaiters.delete(settle);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onConnect = (): void => settle();
      this.once('connect', onConnect);
      this.once('error', settle);
      this.connectWaiters.add(settle);
    });
  }

  /**
   * Publishes telemetry on `devices/{id}/telemetry`, in any contract form:
   * `{temperature: 21.5}`, `{ts, values}`, or an array of those (a batch).
   * Rejects without publishing anything if the payload breaks the contract (keys,
   * values, forms, or the broker's 1 MiB packet cap); the platform's own, configurable
   * limits (payload size, batch length, clock skew) are reported on the errors topic.
   *
   * On MQTT 5, a QoS 1 message the broker answers "no matching subscribers" (the
   * platform was not subscribed: a restarted broker drops messages until it subscribes
   * again) is sent again, after 250 ms, then twice as long each time up to 4 s; the
   * promise rejects after a minute of that. Later messages may get there first; history
   * orders timed entries by their `ts`. The same holds for {@link reportState} and
   * command results.
   */
  async publishTelemetry(payload: TelemetryPayload, options: PublishTelemetryOptions = {}): Promise<void> {
    const json = JSON.stringify(payload);
    const check = parseTelemetry(json, {
      // The platform judges timestamps against its own clock; here only the form is checked.
      now: Number.POSITIVE_INFINITY,
      maxPayloadBytes: LIMITS.maxPacketBytes,
      maxBatchEntries: Number.MAX_SAFE_INTEGER,
    });
    if (!check.ok) throw new Error(`invalid telemetry: ${check.error}`);
    await this.publishToPlatform(topics.telemetry(this.deviceId), json, { qos: options.qos ?? 0, retain: false });
  }

  /**
   * Publishes a JSON merge patch (RFC 7396) of the reported state on
   * `devices/{id}/state/reported` with QoS 1, such as `{setpoint: 21}`;
   * a `null` value removes a key. Resolves on PUBACK (on MQTT 5, once a
   * subscription took it, as for {@link publishTelemetry}).
   */
  async reportState(patch: ReportedPatchOf<M>): Promise<void> {
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
      throw new Error('invalid state patch: expected a JSON object');
    }
    await this.publishToPlatform(topics.stateReported(this.deviceId), JSON.stringify(patch), { qos: 1, retain: false });
  }

  /**
   * Calls `handler` with every new desired state document (`{version, state}`,
   * the whole desired state) from the retained `devices/{id}/state/desired` topic:
   * the current one right after connecting, then each change. A copy with the same
   * version and state (the retained message again after a reconnect) is not delivered
   * twice. A handler added after a document arrived is called with it at once.
   */
  onDesiredState(handler: DesiredStateHandler): this {
    this.desiredHandlers.push(handler);
    const latest = this.desired;
    if (latest !== undefined) queueMicrotask(() => this.callSafely(() => handler(latest)));
    this.want(topics.stateDesired(this.deviceId), 1);
    return this;
  }

  /**
   * Runs `handler` for every command named `name` (see {@link CommandHandler}),
   * answering on `devices/{id}/commands/{commandId}/result`: `accepted` first, then
   * `succeeded` with the handler's result or `failed` with its error's message.
   * A command with no handler is answered `failed` with `unknown command`; a
   * redelivered command (QoS 1 may deliver twice) runs once. A second handler for
   * the same name replaces the first.
   */
  onCommand<N extends CommandNameOf<M>>(name: N, handler: CommandHandler<CommandParamsOf<M, N>>): this {
    const check = commandNameSchema.safeParse(name);
    if (!check.success)
      throw new Error(`invalid command name ${JSON.stringify(name)}: ${check.error.issues[0].message}`);
    const commands = this.model?.declaration.commands;
    if (commands !== undefined && !Object.prototype.hasOwnProperty.call(commands, name)) {
      throw new Error(`the model ${this.model?.model.id} has no command ${JSON.stringify(name)}`);
    }
    this.commandHandlers.set(name, handler as CommandHandler<unknown>);
    this.want(topics.commandsFilter(this.deviceId), 1);
    return this;
  }

  /**
   * Calls `handler` with each notice on `devices/{id}/errors`, where the platform
   * says why it refused a message from this device (`{topic, error, ts}`).
   */
  onError(handler: ErrorNoticeHandler): this {
    this.errorHandlers.push(handler);
    this.want(topics.errors(this.deviceId), 0);
    return this;
  }

  /**
   * Publishes `offline` (retained) on the status topic, since a clean DISCONNECT
   * discards the will [MQTT-3.14.4-3], then disconnects and stops reconnecting.
   * Safe to call more than once.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.ready = false;
    for (const settle of [...this.connectWaiters]) settle(new Error('client closed'));
    if (this.mqtt.connected) {
      const offline: DeviceStatus = 'offline';
      const published = this.mqtt
        .publishAsync(topics.status(this.deviceId), offline, { qos: 1, retain: true })
        .then(() => true)
        .catch(() => false);
      const acked = await Promise.race([published, delay(CLOSE_TIMEOUT_MS).then(() => false)]);
      // Without the PUBACK, drop the connection so that the broker publishes the will instead.
      await this.mqtt.endAsync(!acked);
    } else {
      await this.mqtt.endAsync(true);
    }
  }

  private handleConnect(connack: IConnackPacket): void {
    this.wasConnected = true;
    // Telemetry is many small publishes: send each at once rather than after the last one's ACK (Nagle).
    if (this.mqtt.stream instanceof Socket) this.mqtt.stream.setNoDelay(true);
    // Subscribe before announcing `online`: the platform may send pending commands
    // as soon as it sees the device online, and they must find a subscription.
    this.subscribeAll(() => {
      if (!this.mqtt.connected) return;
      // The model before `online`: commands sent once the device shows online are checked against it.
      // Retained, as discovery messages are: an external broker hands it to a platform that subscribes later.
      if (this.model !== undefined) {
        this.publishToPlatform(topics.model(this.deviceId), JSON.stringify(this.model.model), {
          qos: 1,
          retain: true,
        }).catch((error: unknown) => this.emitError(asError(error)));
      }
      this.publishStatus('online');
      this.ready = true;
      this.emit('connect', connack);
    });
  }

  private handleClose(): void {
    this.ready = false;
    if (!this.wasConnected) return;
    this.wasConnected = false;
    this.emit('offline');
  }

  private want(filter: string, qos: 0 | 1): void {
    if (this.subscriptions.has(filter)) return;
    this.subscriptions.set(filter, qos);
    // While disconnected, the next handleConnect subscribes to it with the rest.
    if (this.mqtt.connected) this.subscribe({ [filter]: { qos } }, () => undefined);
  }

  private subscribeAll(done: () => void): void {
    if (this.subscriptions.size === 0) {
      done();
      return;
    }
    const map: ISubscriptionMap = {};
    for (const [filter, qos] of this.subscriptions) map[filter] = { qos };
    this.subscribe(map, done);
  }

  private subscribe(map: ISubscriptionMap, done: () => void): void {
    this.mqtt.subscribe(map, (error, granted) => {
      if (error) {
        // A dropped connection cancels the SUBSCRIBE; the next connect subscribes again.
        if (this.mqtt.connected) this.emitError(error);
      } else {
        // 0x80 in a SUBACK means the broker refused that filter [MQTT-3.9.3].
        for (const grant of granted ?? []) {
          if (grant.qos === 128) this.emitError(new Error(`subscription to ${grant.topic} refused by the broker`));
        }
      }
      done();
    });
  }

  /** Publishes a message for the platform, again while the broker says no subscription matched it (MQTT 5). */
  private async publishToPlatform(topic: string, payload: string, options: IClientPublishOptions): Promise<void> {
    const giveUpAt = Date.now() + UNROUTED_GIVE_UP_MS;
    for (let wait = UNROUTED_RETRY_FIRST_MS; ; wait = Math.min(wait * 2, UNROUTED_RETRY_MAX_MS)) {
      const packet = await this.mqtt.publishAsync(topic, payload, options);
      if (packet?.messageId === undefined || !this.unrouted.delete(packet.messageId)) return;
      if (Date.now() + wait > giveUpAt) {
        throw new Error(`no subscriber took the message on ${topic} (PUBACK: no matching subscribers)`);
      }
      await delay(wait);
    }
  }

  private publishStatus(status: DeviceStatus): void {
    this.mqtt
      .publishAsync(topics.status(this.deviceId), status, { qos: 1, retain: true })
      .catch((error: unknown) => this.emitError(asError(error)));
  }

  /** Dispatches an incoming message by the kind of its topic. */
  private handleMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const parsed = parseTopic(topic);
    if (parsed === undefined || parsed.deviceId !== this.deviceId) return;
    switch (parsed.kind) {
      case 'command':
        if (parsed.commandId !== undefined) void this.handleCommand(parsed.commandId, payload, packet);
        return;
      case 'state.desired':
        this.handleDesired(payload);
        return;
      case 'errors':
        this.handleErrorNotice(payload);
        return;
      case 'telemetry':
      case 'state.reported':
      case 'status':
      case 'command.result':
      case 'model':
        // Device → platform topics: never subscribed to.
        return;
    }
  }

  private async handleCommand(commandId: string, payload: Buffer, packet: IPublishPacket): Promise<void> {
    // QoS 1 is at least once: run a redelivered command only once.
    if (this.recentCommands.has(commandId)) return;
    this.recentCommands.add(commandId);
    if (this.recentCommands.size > REMEMBERED_COMMANDS) {
      this.recentCommands.delete(this.recentCommands.values().next().value as string);
    }
    const correlationData = packet.properties?.correlationData;
    const answer = (result: CommandResult): Promise<void> => this.publishResult(commandId, result, correlationData);

    const message = commandMessageSchema.safeParse(parseJson(payload));
    if (!message.success) {
      const issue = message.error.issues[0];
      const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
      return answer({ status: 'failed', error: truncate(`invalid command: ${where}${issue.message}`) });
    }
    const { name, issuedAt, expiresAt } = message.data;
    const handler = this.commandHandlers.get(name);
    if (handler === undefined) return answer({ status: 'failed', error: 'unknown command' });
    // With a model, the handler gets its params as the model's schema parses them (defaults filled in).
    let params: unknown = message.data.params;
    const schema = this.model?.declaration.commands?.[name]?.params;
    if (schema !== undefined) {
      const fits = schema.safeParse(params);
      if (!fits.success) {
        const issue = fits.error.issues[0];
        const where = issue.path.length > 0 ? `params.${issue.path.join('.')}: ` : 'params: ';
        return answer({ status: 'failed', error: truncate(`invalid command: ${where}${issue.message}`) });
      }
      params = fits.data;
    }

    // Not awaited: MQTT.js sends QoS 1 publishes in order, so `accepted` still comes first.
    void answer({ status: 'accepted' });
    const progress = (percent: number, options: { timeoutMs?: number } = {}): Promise<void> => {
      if (!Number.isFinite(percent) || percent < 0 || percent > 100) {
        return Promise.reject(new Error(`progress must be a percentage from 0 to 100, not ${percent}`));
      }
      return answer({ status: 'in-progress', progress: percent, ...options });
    };
    let result: unknown;
    try {
      result = await handler(params, { commandId, name, issuedAt, expiresAt, progress });
    } catch (error) {
      return answer({ status: 'failed', error: truncate(asError(error).message || 'command failed') });
    }
    return answer(result === undefined ? { status: 'succeeded' } : { status: 'succeeded', result });
  }

  private async publishResult(commandId: string, result: CommandResult, correlationData?: Buffer): Promise<void> {
    let json: string;
    try {
      json = JSON.stringify(result);
    } catch {
      json = JSON.stringify({ status: 'failed', error: 'the command result is not JSON-serialisable' });
    }
    const options: IClientPublishOptions = { qos: 1, retain: false };
    // MQTT 5 request/response: echo the correlation data of the request.
    if (correlationData !== undefined && this.mqtt.options.protocolVersion === 5) {
      options.properties = { correlationData };
    }
    try {
      await this.publishToPlatform(topics.commandResult(this.deviceId, commandId), json, options);
    } catch (error) {
      this.emitError(asError(error));
    }
  }

  private handleDesired(payload: Buffer): void {
    // An empty retained message clears the topic: there is no document to apply.
    if (payload.length === 0) return;
    const document = desiredStateDocumentSchema.safeParse(parseJson(payload));
    if (!document.success) {
      this.emitError(new Error(`invalid desired state document: ${document.error.issues[0].message}`));
      return;
    }
    const json = JSON.stringify(document.data);
    if (json === this.desiredJson) return;
    this.desiredJson = json;
    this.desired = document.data;
    for (const handler of [...this.desiredHandlers]) this.callSafely(() => handler(document.data));
  }

  private handleErrorNotice(payload: Buffer): void {
    const notice = errorNoticeSchema.safeParse(parseJson(payload));
    if (!notice.success) {
      this.emitError(new Error(`invalid error notice: ${notice.error.issues[0].message}`));
      return;
    }
    for (const handler of [...this.errorHandlers]) this.callSafely(() => handler(notice.data));
  }

  /** Runs a user handler; what it throws or rejects with becomes an `error` event. */
  private callSafely(run: () => unknown): void {
    try {
      const returned = run();
      if (returned instanceof Promise) returned.catch((error: unknown) => this.emitError(asError(error)));
    } catch (error) {
      this.emitError(asError(error));
    }
  }

  private emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/**
 * Connects a device to the platform's broker and returns its client at once;
 * the connection completes in the background (see the `connect` event and
 * {@link DeviceClient.waitForConnect}). Register handlers right away, before the
 * first connect, so that they are subscribed before `online` is published.
 *
 * - client id = username = `deviceId`, password = the device secret;
 * - will: `offline`, retained, QoS 1 on `devices/{id}/status`;
 * - on every connect: subscribes for its handlers, then publishes `online`, retained.
 *
 * @throws if `deviceId` does not match the contract's device id pattern.
 */
export function connectDevice<M extends DefinedModel | undefined = undefined>(
  options: ConnectDeviceOptions<M>,
): DeviceClient<M> {
  return new DeviceClient<M>(options);
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

function truncate(text: string): string {
  return text.length <= MAX_RESULT_ERROR_LENGTH ? text : `${text.slice(0, MAX_RESULT_ERROR_LENGTH - 1)}…`;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
