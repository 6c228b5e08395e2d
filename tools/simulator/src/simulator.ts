import { randomInt } from 'node:crypto';
import { createModel, DEVICE_TYPE_NAMES, DEVICE_TYPES, Rng, type DeviceType } from './models';
import { type AdminCredentials, SimulatorFiles, logInAsSimulator } from './credentials';
import { PlatformApi } from './platform-api';
import { VirtualDevice } from './virtual-device';

/** Options of {@link runSimulator}. */
export interface SimulatorOptions {
  /** The api's origin, such as `http://127.0.0.1:3000`. */
  apiUrl: string;
  /** The broker, such as `mqtt://127.0.0.1:1883`. */
  mqttUrl: string;
  /**
   * An admin user of the platform to log in as (devices and credentials need the admin role).
   * Without them the simulator uses its own user, kept in `dataDir`.
   */
  username?: string;
  password?: string;
  /**
   * Where the simulator keeps its own login and its devices' secrets (DATA_DIR):
   * a device whose secret is stored keeps it from one start to the next. Without
   * it every existing device gets a new secret on each start.
   */
  dataDir?: string;
  /** The admin that may make the simulator's own user on first use (see logInAsSimulator). */
  firstAdmin?: AdminCredentials;
  /** How many devices. */
  devices: number;
  /** Telemetry messages per second per device. */
  rate: number;
  /** Device ids are `${prefix}-${type}-${nnn}` (default `sim`). */
  prefix?: string;
  /** Device types, assigned in turn (default all). */
  types?: readonly DeviceType[];
  /** Chance per device per minute of dropping offline for a few seconds (default 0.02; 0 never). */
  flaky?: number;
  /** How long a drop lasts, [min, max] ms (default 2-10 s). */
  offlineMs?: readonly [number, number];
  /** Seed of the fleet's randomness (default: random, and logged). */
  seed?: number;
  /** Telemetry QoS (default 0). */
  qos?: 0 | 1;
  /** Milliseconds between summary lines (default 10000; 0 for none). */
  summaryIntervalMs?: number;
  /** Where log lines go (default `console.log`). */
  log?: (line: string) => void;
  /** How many registration requests run at once (default 8). */
  registrationConcurrency?: number;
}

/** A device of the fleet plan. */
export interface PlannedDevice {
  id: string;
  type: DeviceType;
  /** The display name it is registered with. */
  name: string;
}

/** Counters of a running fleet. */
export interface SimulatorStats {
  devices: number;
  connected: number;
  /** Telemetry messages published (a backlog batch counts once). */
  messagesSent: number;
  /** Deliberate drops (`--flaky`). */
  disconnects: number;
  commandsRun: number;
  errors: number;
}

/** A running fleet. */
export interface Simulator {
  readonly devices: readonly PlannedDevice[];
  /** The seed in use, to reproduce the run. */
  readonly seed: number;
  stats(): SimulatorStats;
  /** Stops publishing and closes every client (each publishes `offline`). Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Names the devices of a fleet: types in turn, numbered per type from 001,
 * e.g. `sim-thermostat-001`, `sim-meter-001`, `sim-air-001`, `sim-thermostat-002`, …
 */
export function planFleet(count: number, types: readonly DeviceType[], prefix: string): PlannedDevice[] {
  const numbers = new Map<DeviceType, number>();
  return Array.from({ length: count }, (_, i) => {
    const type = types[i % types.length];
    const n = (numbers.get(type) ?? 0) + 1;
    numbers.set(type, n);
    const nnn = String(n).padStart(3, '0');
    return { id: `${prefix}-${type}-${nnn}`, type, name: `Simulated ${DEVICE_TYPE_NAMES[type]} ${nnn}` };
  });
}

/**
 * Starts a fleet in this process: logs in to the api, registers each device (or
 * rotates the secret of one that exists), connects them all over MQTT and
 * publishes telemetry until {@link Simulator.stop}. Rejects if login or a
 * registration fails, before any device connects.
 */
export async function runSimulator(options: SimulatorOptions): Promise<Simulator> {
  const log = options.log ?? ((line: string) => console.log(line));
  const types = options.types ?? DEVICE_TYPES;
  const flaky = options.flaky ?? 0.02;
  const seed = options.seed ?? randomInt(0, 2 ** 32);
  if (!(options.devices >= 1) || !(options.rate > 0) || types.length === 0 || !(flaky >= 0 && flaky <= 1)) {
    throw new Error('runSimulator: devices >= 1, rate > 0, at least one type and 0 <= flaky <= 1, please');
  }
  const plan = planFleet(options.devices, types, options.prefix ?? 'sim');

  const api = new PlatformApi(options.apiUrl);
  const files = options.dataDir === undefined ? undefined : new SimulatorFiles(options.dataDir);
  let username: string;
  if (options.username !== undefined && options.password !== undefined) {
    await api.login(options.username, options.password);
    username = options.username;
  } else if (files !== undefined) {
    username = await logInAsSimulator(api, files, options.firstAdmin, log);
  } else {
    throw new Error('runSimulator: give a username and password, or a dataDir for its own credentials');
  }
  log(`simulator: logged in to ${options.apiUrl} as ${username}; registering ${plan.length} devices`);
  const secrets = files?.readDeviceSecrets() ?? new Map<string, string>();
  const provisioned = await mapConcurrently(plan, options.registrationConcurrency ?? 8, (device) =>
    api.provisionDevice(
      { id: device.id, name: device.name, type: device.type, labels: { simulated: 'true' } },
      secrets.get(device.id),
    ),
  );
  const count = (outcome: string): number => provisioned.filter((p) => p.outcome === outcome).length;
  log(
    `simulator: ${count('created')} devices created, ${count('rotated')} existing ones got a new secret, ` +
      `${count('kept')} kept their stored one`,
  );
  plan.forEach((device, i) => secrets.set(device.id, provisioned[i].credentials.password));
  files?.writeDeviceSecrets(secrets);

  let errors = 0;
  const logged = new Set<string>();
  // A stored secret the broker refuses (the device was rotated or made anew elsewhere) is replaced once per run.
  const renewed = new Set<string>();
  const renew = async (device: VirtualDevice): Promise<void> => {
    const { password } = await api.rotateSecret(device.id);
    secrets.set(device.id, password);
    files?.writeDeviceSecrets(secrets);
    device.useSecret(password);
    log(`simulator: ${device.id}: the broker refused its stored secret; it got a new one`);
  };
  const fleetRng = new Rng(seed);
  const devices: VirtualDevice[] = plan.map((device, i) => {
    const rng = fleetRng.fork();
    return new VirtualDevice({
      id: device.id,
      model: createModel(device.type, rng, Date.now()),
      rng,
      mqttUrl: options.mqttUrl,
      password: provisioned[i].credentials.password,
      rate: options.rate,
      qos: options.qos ?? 0,
      flaky,
      offlineMs: options.offlineMs ?? [2000, 10_000],
      onError: (error) => {
        errors++;
        if (isRefusedLogin(error) && provisioned[i].outcome === 'kept' && !renewed.has(device.id)) {
          renewed.add(device.id);
          renew(devices[i]).catch((e: unknown) => log(`simulator: ${device.id}: ${(e as Error).message}`));
          return;
        }
        // A broker outage makes every device fail the same way: say each kind of error once.
        const kind = error.message.split(device.id).join('<id>');
        if (!logged.has(kind) && logged.size < 100) {
          logged.add(kind);
          log(`simulator: ${device.id}: ${error.message} (repeats are counted in the summary)`);
        }
      },
    });
  });
  for (const device of devices) device.start();
  log(
    `simulator: ${devices.length} devices (${types.join(', ')}) connecting to ${options.mqttUrl}, ` +
      `${options.rate} msg/s each, flaky ${flaky}/min, seed ${seed}`,
  );

  const stats = (): SimulatorStats => ({
    devices: devices.length,
    connected: devices.filter((d) => d.connected).length,
    messagesSent: devices.reduce((sum, d) => sum + d.messagesSent, 0),
    disconnects: devices.reduce((sum, d) => sum + d.disconnects, 0),
    commandsRun: devices.reduce((sum, d) => sum + d.commandsRun, 0),
    errors,
  });
  let last = { at: Date.now(), sent: 0 };
  const summaryMs = options.summaryIntervalMs ?? 10_000;
  const summary =
    summaryMs > 0
      ? setInterval(() => {
          const s = stats();
          const now = Date.now();
          const perSecond = ((s.messagesSent - last.sent) * 1000) / Math.max(1, now - last.at);
          last = { at: now, sent: s.messagesSent };
          log(
            `simulator: ${s.connected}/${s.devices} connected, ${s.messagesSent} messages sent (${perSecond.toFixed(1)}/s), ` +
              `${s.disconnects} drops, ${s.commandsRun} commands, ${s.errors} errors`,
          );
        }, summaryMs)
      : undefined;

  let stopping: Promise<void> | undefined;
  return {
    devices: plan,
    seed,
    stats,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(summary);
        await Promise.all(devices.map((d) => d.stop()));
        const s = stats();
        log(`simulator: stopped ${s.devices} devices after ${s.messagesSent} messages`);
      })()),
  };
}

/** A CONNACK that refuses the device's secret: 4 or 5 in MQTT 3.1.1, 0x86 or 0x87 in MQTT 5. */
function isRefusedLogin(error: Error): boolean {
  const code = (error as Error & { code?: unknown }).code;
  return code === 4 || code === 5 || code === 0x86 || code === 0x87;
}

/** Maps `items` with at most `limit` calls in flight, keeping the order; rejects on the first failure. */
async function mapConcurrently<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await run(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
