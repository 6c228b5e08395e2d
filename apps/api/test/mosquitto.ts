import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', ...persistence, ...(options.config ?? []), ''].join('\n'),
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
        const probe = await mqtt.connectAsync(url, { ...options.probe, reconnectPeriod: 0, connectTimeout: 1000 });
        await probe.endAsync();
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
