import { connectDevice, type DefinedModel, type DeviceClient, type TimedTelemetry } from '@iot/device-sdk';
import { LIMITS, type JsonObject, type TelemetryValues } from '@iot/protocol';
import { chanceWithin, MODEL_DEFINITIONS, type DeviceModel, type Rng } from './models';

/** Reported once on every connect, with the model's settings. */
export const FIRMWARE_VERSION = 'sim-1.0.0';

/** Options of a {@link VirtualDevice}. */
export interface VirtualDeviceOptions {
  id: string;
  model: DeviceModel;
  /** The device's own random stream (dynamics, timing, flakiness). */
  rng: Rng;
  mqttUrl: string;
  /** The device secret from the api. */
  password: string;
  /** Telemetry messages per second. */
  rate: number;
  qos: 0 | 1;
  /** Chance per minute of dropping offline (0 never, 1 at once). */
  flaky: number;
  /** How long a drop lasts, [min, max] ms. */
  offlineMs: readonly [number, number];
  /** Receives every error of this device: connection, publish, or a notice from the platform. */
  onError: (error: Error) => void;
}

/**
 * One simulated device: steps its model on a timer and publishes each reading
 * through @iot/device-sdk, runs the model's commands and desired state, reports the
 * applied state, and now and then loses its connection for a few seconds (the broker
 * then publishes its `offline` will). Readings taken while offline are kept and sent
 * as one timed batch after it reconnects, as a device with a small buffer would.
 */
export class VirtualDevice {
  readonly id: string;
  /** Telemetry messages published (a batch counts once). */
  messagesSent = 0;
  /** Times it dropped offline on purpose. */
  disconnects = 0;
  /** Commands it ran successfully. */
  commandsRun = 0;

  private readonly client: DeviceClient<DefinedModel>;
  private readonly backlog: TimedTelemetry[] = [];
  private tickTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private lastStep = Date.now();
  private stopping: Promise<void> | undefined;

  /** Connects at once; call {@link start} to begin publishing. */
  constructor(private readonly options: VirtualDeviceOptions) {
    this.id = options.id;
    const { model, rng } = options;
    this.client = connectDevice({
      url: options.mqttUrl,
      deviceId: options.id,
      password: options.password,
      // Announced at every connect: the console shows units and named commands with no configuration.
      model: MODEL_DEFINITIONS[model.type],
      // Spread reconnects out so that a broker restart does not bring the whole fleet back at once.
      reconnectPeriod: Math.round(rng.uniform(1500, 3500)),
    });
    // Handlers go on before the first connect, so they are subscribed before `online`.
    for (const [name, run] of Object.entries(model.commands)) {
      this.client.onCommand(name, async (params) => {
        const applied = run(params);
        this.commandsRun++;
        await this.report(applied);
        return applied;
      });
    }
    this.client.onDesiredState(async (document) => {
      const applied = model.applyDesired(document.state);
      if (Object.keys(applied).length > 0) await this.report(applied);
    });
    this.client.onError((notice) =>
      options.onError(new Error(`platform refused a message on ${notice.topic}: ${notice.error}`)),
    );
    this.client.on('error', (error) => options.onError(error));
    this.client.on('connect', () => {
      void this.report({ firmware: FIRMWARE_VERSION, ...model.reportedState() });
      this.flushBacklog();
    });
  }

  /** Connects again with `secret` (MQTT.js stops reconnecting after a refused CONNACK). */
  useSecret(secret: string): void {
    this.client.mqtt.options.password = secret;
    if (this.stopping === undefined && !this.client.connected) this.client.mqtt.reconnect();
  }

  /** Whether the device is connected to the broker. */
  get connected(): boolean {
    return this.client.connected;
  }

  /**
   * Starts the telemetry timer once the device is first connected, after a random
   * fraction of a period so that devices do not publish in lockstep.
   */
  start(): void {
    const period = 1000 / this.options.rate;
    const begin = (): void => {
      if (this.stopping !== undefined || this.startTimer !== undefined) return;
      this.startTimer = setTimeout(
        () => {
          this.lastStep = Date.now();
          this.tickTimer = setInterval(() => this.tick(), period);
        },
        this.options.rng.uniform(0, period),
      );
    };
    if (this.client.connected) begin();
    else this.client.once('connect', begin);
  }

  /** Stops the timers and closes the client, which publishes `offline`. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearTimeout(this.startTimer);
      clearInterval(this.tickTimer);
      clearTimeout(this.reconnectTimer);
      await this.client.close();
    })();
    return this.stopping;
  }

  private tick(): void {
    const now = Date.now();
    const dt = now - this.lastStep;
    this.lastStep = now;
    const values: TelemetryValues = this.options.model.step(dt, this.options.rng);
    const { flaky } = this.options;
    // `connected` stays true until the socket has closed, so a drop decided now is remembered here.
    const dropped = flaky > 0 && this.client.connected && this.options.rng.chance(chanceWithin(flaky, dt));
    if (dropped) this.dropOffline();
    if (this.client.connected && !dropped) {
      this.publish(values, this.options.qos);
    } else {
      this.backlog.push({ ts: now, values });
      if (this.backlog.length > LIMITS.maxBatchEntries) this.backlog.shift();
    }
  }

  /** Loses the connection for a while, as on a network failure. */
  private dropOffline(): void {
    this.disconnects++;
    // Forced: no DISCONNECT packet, so the broker publishes the `offline` will [MQTT-3.1.2-8].
    this.client.mqtt.end(true);
    const [min, max] = this.options.offlineMs;
    this.reconnectTimer = setTimeout(
      () => {
        this.reconnectTimer = undefined;
        if (this.stopping === undefined) this.client.mqtt.reconnect();
      },
      this.options.rng.uniform(min, max),
    );
  }

  private flushBacklog(): void {
    if (this.backlog.length === 0) return;
    this.publish(this.backlog.splice(0), 1);
  }

  private publish(payload: TelemetryValues | TimedTelemetry[], qos: 0 | 1): void {
    this.client.publishTelemetry(payload, { qos }).then(
      () => this.messagesSent++,
      (error: unknown) => this.options.onError(error as Error),
    );
  }

  private async report(patch: JsonObject): Promise<void> {
    try {
      await this.client.reportState(patch);
    } catch (error) {
      this.options.onError(error as Error);
    }
  }
}
