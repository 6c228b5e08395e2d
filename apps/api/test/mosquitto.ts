import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { freePort } from './postgres';

const mosquittoBinary = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find(
  (path) => spawnSync(path, ['-h']).error === undefined,
);

/** Why Mosquitto tests cannot run here, or undefined when they can. */
export function mosquittoMissing(): string | undefined {
  return mosquittoBinary ? undefined : 'mosquitto is not installed (apt-get install mosquitto)';
}

export const DYNSEC_PLUGIN = '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';
const ctrlBinary = spawnSync('mosquitto_ctrl', ['--help']).error === undefined;

/** Why tests of Mosquitto with dynamic security cannot run here, or undefined when they can. */
export function dynsecMissing(): string | undefined {
  return (
    mosquittoMissing() ??
    (!existsSync(DYNSEC_PLUGIN) ? `the dynamic-security plugin is missing (${DYNSEC_PLUGIN})` : undefined) ??
    (!ctrlBinary ? 'mosquitto_ctrl is not installed (apt-get install mosquitto-clients)' : undefined)
  );
}

export interface TestMosquitto {
  url: string;
  port: number;
  /** The broker's folder: its configuration, and its persistence file when on. */
  dir: string;
  /** Stops the broker (SIGTERM: an orderly stop that saves persistence; SIGKILL: a crash); resolves once it exited. */
  down(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the stopped broker again on the same port and folder; resolves once a client can connect. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /** Extra configuration lines (plugins, `allow_anonymous false`, …). */
  config?: string[];
  /** Keep sessions and queued messages in the folder across restarts. */
  persistence?: boolean;
  /** The login of the readiness probe, when anonymous clients are refused. */
  probe?: { username: string; password: string };
  /**
   * Dynamic security with this admin, anonymous logins off: the admin may
   * also publish under devices/ (commands, desired state), as the api's
   * broker user does.
   */
  dynsec?: { username: string; password: string };
}

/**
 * Mosquitto as a process of its own on a free loopback port, in a temporary
 * folder. Started as root, Mosquitto becomes the mosquitto user before it
 * opens its files, so the folder is handed to that user.
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<TestMosquitto> {
  if (!mosquittoBinary) throw new Error(mosquittoMissing());
  const dir = mkdtempSync(join(tmpdir(), 'iot-mosquitto-'));
  const port = await freePort();
  const persistence = options.persistence
    ? ['persistence true', `persistence_location ${dir}/`, 'autosave_interval 1']
    : ['persistence false'];
  const security = options.dynsec ? dynsecConfig(dir, options.dynsec) : ['allow_anonymous true'];
  const probe = options.probe ?? options.dynsec;
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      `listener ${port} 127.0.0.1`,
      // As deploy/mosquitto/mosquitto.conf.
      'set_tcp_nodelay true',
      ...security,
      ...persistence,
      ...(options.config ?? []),
      '',
    ].join('\n'),
  );
  if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'mosquitto', dir]);
  const url = `mqtt://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const up = async () => {
    const started = spawn(mosquittoBinary, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    child = started;
    // Ready when a client can connect; there is no other signal to wait for.
    for (let attempt = 0; ; attempt++) {
      try {
        const client = await mqtt.connectAsync(url, { ...probe, reconnectPeriod: 0, connectTimeout: 1000 });
        await client.endAsync();
        return;
      } catch (error) {
        if (attempt > 100 || started.exitCode !== null) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  const down = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    await exited;
  };
  await up();
  return {
    url,
    port,
    dir,
    down,
    up,
    async stop() {
      await down('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The configuration lines of dynamic security in `dir`, its file made by mosquitto_ctrl with `admin`. */
function dynsecConfig(dir: string, admin: { username: string; password: string }): string[] {
  const file = join(dir, 'dynamic-security.json');
  const init = spawnSync('mosquitto_ctrl', ['dynsec', 'init', file, admin.username, admin.password]);
  if (init.status !== 0) throw new Error(`mosquitto_ctrl dynsec init failed: ${init.stderr.toString()}`);
  const dynsec = JSON.parse(readFileSync(file, 'utf8')) as { roles: Array<{ acls: unknown[] }> };
  dynsec.roles[0].acls.push({ acltype: 'publishClientSend', topic: 'devices/#', allow: true });
  writeFileSync(file, JSON.stringify(dynsec));
  return ['allow_anonymous false', `plugin ${DYNSEC_PLUGIN}`, `plugin_opt_config_file ${file}`];
}
