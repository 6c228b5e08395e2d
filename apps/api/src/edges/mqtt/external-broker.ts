import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import mqtt, { type IClientPublishOptions, type MqttClient } from 'mqtt';
import { PLATFORM_SUBSCRIPTIONS, parseTopic } from '@iot/protocol';
import { DeviceTransport, type PublishOptions, type TransportHandlers } from '../../core/device-transport';

/**
 * A client of an external broker (Mosquitto, EMQX), used when MQTT_URL is set.
 * It speaks MQTT 5 and falls back to 3.1.1 if the broker refuses 5. Device
 * authentication and ACLs are the broker's job in this mode; presence comes
 * from the retained status topic and its will.
 */
export class ExternalBroker extends DeviceTransport {
  readonly kind = 'external' as const;
  readonly port = undefined;
  private readonly logger = new Logger(ExternalBroker.name);
  private client: MqttClient | undefined;
  /** Listeners for messages on `extraSubscriptions` (topics outside the contract, e.g. dynsec answers). */
  private readonly extraListeners: Array<(topic: string, payload: Buffer) => void> = [];

  constructor(
    private readonly options: { url: string; username?: string; password?: string; extraSubscriptions?: string[] },
  ) {
    super();
  }

  /** Calls `listener` with every message on the extra subscriptions. */
  onExtraMessage(listener: (topic: string, payload: Buffer) => void): void {
    this.extraListeners.push(listener);
  }

  get ready(): boolean {
    return this.client?.connected === true;
  }

  async start(handlers: TransportHandlers): Promise<void> {
    try {
      this.client = await this.connect(5, handlers);
    } catch (error) {
      this.logger.warn(`MQTT 5 refused (${(error as Error).message}); falling back to MQTT 3.1.1`);
      this.client = await this.connect(4, handlers);
    }
  }

  private async connect(protocolVersion: 4 | 5, handlers: TransportHandlers): Promise<MqttClient> {
    const client = await mqtt.connectAsync(this.options.url, {
      protocolVersion,
      clientId: `iot-api-${randomBytes(6).toString('hex')}`,
      username: this.options.username,
      password: this.options.password,
      clean: true,
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
    });
    client.on('message', (topic, payload) => {
      const parsed = parseTopic(topic);
      if (!parsed) {
        if (topic.startsWith('$')) for (const listener of this.extraListeners) listener(topic, payload);
        return;
      }
      handlers.onMessage({
        deviceId: parsed.deviceId,
        topic: parsed,
        rawTopic: topic,
        payload,
        receivedAt: Date.now(),
      });
    });
    client.on('error', (error) => this.logger.warn(`MQTT: ${error.message}`));
    client.on('offline', () => this.logger.warn('MQTT: connection to the broker lost; reconnecting'));
    client.on('connect', () =>
      this.logger.log(`MQTT: connected to ${this.options.url} (v${protocolVersion === 5 ? '5' : '3.1.1'})`),
    );
    await client.subscribeAsync([...PLATFORM_SUBSCRIPTIONS, ...(this.options.extraSubscriptions ?? [])], { qos: 1 });
    return client;
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
    await client?.endAsync();
  }
}
