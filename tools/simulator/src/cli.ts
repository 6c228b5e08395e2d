import { parseArgs } from 'node:util';
import { DEVICE_TYPES, type DeviceType } from './models';

/** What the command line asks for; credentials are resolved separately (see credentials.ts). */
export interface CliOptions {
  devices: number;
  rate: number;
  apiUrl: string;
  mqttUrl: string;
  username?: string;
  password?: string;
  prefix: string;
  types: DeviceType[];
  flaky: number;
  seed?: number;
  qos: 0 | 1;
}

/** The result of {@link parseCli}: options to run with, or a request for the usage text. */
export type CliCommand = { kind: 'run'; options: CliOptions } | { kind: 'help' };

/** A command line that cannot be run, with a message for the user. */
export class CliError extends Error {}

/** The `--help` text. */
export const USAGE = `Usage: node dist/tools/simulator/main.js [options]

A fleet of virtual devices (thermostats, power meters, air-quality sensors) that
registers itself with the platform's API and publishes telemetry over MQTT.

Options:
  --devices N        number of devices (default 10)
  --rate R           telemetry messages per second per device (default 1; 0.01-100)
  --api URL          the platform's HTTP API (default http://127.0.0.1:3000)
  --mqtt URL         the MQTT broker (default mqtt://<api host>:1883)
  --username NAME    an admin user to log in as (default: $SIM_USERNAME, $ADMIN_USERNAME or admin)
  --password SECRET  its password (default: $SIM_PASSWORD). Without one the simulator
                     uses its own user "simulator", kept in \${DATA_DIR:-data}/simulator-credentials
                     and made on first use with $ADMIN_PASSWORD or the api's generated
                     \${DATA_DIR:-data}/initial-admin-password
                     Device secrets are kept in \${DATA_DIR:-data}/simulator-devices.json and
                     reused; a device gets a new one only when it has none or it is refused.
  --prefix P         device ids are P-<type>-001, … (default sim)
  --types LIST       comma-separated, of ${DEVICE_TYPES.join(', ')} (default all)
  --flaky P          chance per device per minute of dropping offline for a few
                     seconds (default 0.02; 0 turns it off)
  --seed N           random seed, for a reproducible fleet
  --qos 0|1          telemetry QoS (default 0)
  -h, --help         show this text

Stop it with Ctrl-C (SIGINT) or SIGTERM: every device publishes offline first.`;

/** Parses the simulator's command line (without `node` and the script). */
export function parseCli(argv: readonly string[]): CliCommand {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        devices: { type: 'string' },
        rate: { type: 'string' },
        api: { type: 'string' },
        mqtt: { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        prefix: { type: 'string' },
        types: { type: 'string' },
        flaky: { type: 'string' },
        seed: { type: 'string' },
        qos: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  if (values.help) return { kind: 'help' };

  const apiUrl = url('--api', values.api ?? 'http://127.0.0.1:3000', ['http:', 'https:']);
  const prefix = values.prefix ?? 'sim';
  // The longest id is `${prefix}-thermostat-NNNNN`; ids may have 64 characters.
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$/.test(prefix)) {
    throw new CliError('--prefix must be 1-41 letters, digits, _ or -, starting with a letter or digit');
  }
  return {
    kind: 'run',
    options: {
      devices: number('--devices', values.devices, 10, { min: 1, max: 10_000, integer: true }),
      rate: number('--rate', values.rate, 1, { min: 0.01, max: 100 }),
      apiUrl,
      mqttUrl: url('--mqtt', values.mqtt ?? `mqtt://${new URL(apiUrl).hostname}:1883`, [
        'mqtt:',
        'mqtts:',
        'tcp:',
        'ws:',
        'wss:',
      ]),
      username: values.username,
      password: values.password,
      prefix,
      types: types(values.types),
      flaky: number('--flaky', values.flaky, 0.02, { min: 0, max: 1 }),
      seed:
        values.seed === undefined
          ? undefined
          : number('--seed', values.seed, 0, { min: 0, max: 2 ** 32 - 1, integer: true }),
      qos: number('--qos', values.qos, 0, { min: 0, max: 1, integer: true }) as 0 | 1,
    },
  };
}

function number(
  flag: string,
  raw: string | undefined,
  fallback: number,
  { min, max, integer = false }: { min: number; max: number; integer?: boolean },
): number {
  if (raw === undefined) return fallback;
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new CliError(
      `${flag} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function url(flag: string, raw: string, protocols: string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new CliError(`${flag} must be a URL, got ${JSON.stringify(raw)}`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new CliError(
      `${flag} must be a ${protocols.map((p) => p.slice(0, -1)).join(', ')} URL, got ${JSON.stringify(raw)}`,
    );
  }
  return raw;
}

function types(raw: string | undefined): DeviceType[] {
  if (raw === undefined) return [...DEVICE_TYPES];
  const names = [
    ...new Set(
      raw
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length > 0),
    ),
  ];
  const unknown = names.filter((t) => !(DEVICE_TYPES as readonly string[]).includes(t));
  if (names.length === 0 || unknown.length > 0) {
    throw new CliError(
      `--types must list some of ${DEVICE_TYPES.join(', ')}${unknown.length > 0 ? `; unknown: ${unknown.join(', ')}` : ''}`,
    );
  }
  return names as DeviceType[];
}
