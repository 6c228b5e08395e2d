import type { ParsedTopic } from '@iot/protocol';

/** A message a device published, as the bridge sees it. */
export interface DeviceMessage {
  deviceId: string;
  topic: ParsedTopic;
  /** The raw topic string. */
  rawTopic: string;
  payload: Buffer;
  receivedAt: number;
}

/** What the transport tells the rest of the api. Called synchronously; must not throw. */
export interface TransportHandlers {
  /**
   * A device's message. `stored`, when given (QoS 1 and 2), is called exactly
   * once: when the events the message made are committed, or at once when it
   * was refused (after its error notice is queued). The message is
   * acknowledged only then; an error means it was not stored: the embedded
   * broker closes the device's connection, the client of an external broker
   * its own, without acknowledging, so that the message is delivered again.
   */
  onMessage(message: DeviceMessage, stored?: (error?: Error) => void): void;
  /** A device's MQTT session opened or closed (embedded broker only). */
  onSession(deviceId: string, connected: boolean): void;
  /** A device subscribed to its commands: held commands can go out now (embedded broker only). */
  onCommandsSubscribed(deviceId: string): void;
  /** A message the broker refused before it reached `onMessage`. */
  onRejected(deviceId: string, rawTopic: string, reason: string, error: string): void;
  /**
   * Whether devices should wait before sending more: a promise that resolves
   * when they may go on, or undefined. The embedded broker stops reading a
   * device's socket meanwhile, so TCP slows the device down instead of the
   * platform refusing its messages.
   */
  backpressure(): Promise<void> | undefined;
}

export interface PublishOptions {
  qos: 0 | 1;
  retain?: boolean;
  /** MQTT 5 only: ignored on 3.1.1 sessions. */
  responseTopic?: string;
  correlationData?: Buffer;
}

/**
 * The api's side of MQTT: the embedded aedes broker or a client of an
 * external broker. Exactly one is active, chosen by MQTT_URL.
 */
export abstract class DeviceTransport {
  abstract readonly kind: 'embedded' | 'external';
  /** Whether the broker is up (embedded) or connected (external). */
  abstract readonly ready: boolean;
  abstract start(handlers: TransportHandlers): Promise<void>;
  abstract stop(): Promise<void>;
  abstract publish(topic: string, payload: string | Buffer, options: PublishOptions): Promise<void>;
  /** Drops a device's live session at once (credentials rotated or revoked). */
  abstract disconnect(deviceId: string): void;
  /**
   * Whether a command published now reaches the device: with the embedded
   * broker, it is subscribed to its commands; with an external one, its
   * status says online.
   */
  abstract acceptsCommands(deviceId: string, online: boolean): boolean;
  /** The TCP port devices connect to (embedded broker), else undefined. */
  abstract readonly port: number | undefined;
}
