import type { ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ADMIN, type TestApp, login, readyz, spawnApiFromSource, until } from './harness';
import { type TestMosquitto, dynsecMissing, startMosquitto } from './mosquitto';
import { type RunningNginx, nginxMissing, startNginx } from './nginx';
import { type TestPostgres, freePort, postgresMissing, startPostgres } from './postgres';

// The deployment of deploy/docker-compose.yml as processes: two api replicas on one PostgreSQL and one
// Mosquitto with dynamic security and persistence, nginx in front with deploy/nginx/nginx.conf.

/** Why the replica topology cannot run here, or undefined when it can. */
export function topologyMissing(): string | undefined {
  return postgresMissing() ?? dynsecMissing() ?? nginxMissing();
}

export const BROKER_ADMIN = { username: 'broker-admin', password: 'broker-admin-password' };

/** One api process; `kill()` is `kill -9`, `start()` runs it again with the same configuration. */
export class Replica {
  url: string;
  private child: ChildProcessByStdio<null, Readable, Readable> | undefined;
  private output = '';

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /** Starts the process; resolves once `/readyz` answers 200 (database and broker connected). */
  async start(): Promise<void> {
    const child = spawnApiFromSource({ ...this.env, PORT: String(this.port), MQTT_CLIENT_ID: `iot-api-${this.name}` });
    this.child = child;
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-8_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    await until(
      async () => {
        if (child.exitCode !== null) throw new Error(`replica ${this.name} exited: ${this.output}`);
        return (await readyz(this).catch(() => undefined))?.status === 200;
      },
      `replica ${this.name} to become ready`,
      60_000,
    );
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }
}

export interface ReplicaTopology {
  postgres: TestPostgres;
  broker: TestMosquitto;
  nginx: RunningNginx;
  a: Replica;
  b: Replica;
  /** The admin's token, good on every replica. */
  token: string;
  /** A replica or nginx as a TestApp of the harness (admin token, broker url). */
  as(target: { url: string; port?: number }): TestApp;
  /** Stops everything started, whatever state it is in. */
  stop(): Promise<void>;
}

/** Starts PostgreSQL, Mosquitto, replicas a and b (both ready) and nginx in front of them. */
export async function startReplicaTopology(): Promise<ReplicaTopology> {
  const dirs: string[] = [];
  const started: Partial<ReplicaTopology> = {};
  const stop = async () => {
    await started.nginx?.stop();
    await Promise.all([started.a?.stop(), started.b?.stop()]);
    await started.broker?.stop();
    started.postgres?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const postgres = (started.postgres = await startPostgres());
    // As deploy/mosquitto/mosquitto.conf: the broker keeps what a replica that is away has not taken yet.
    const broker = (started.broker = await startMosquitto({
      dynsec: BROKER_ADMIN,
      persistence: true,
      config: ['max_queued_messages 1000000'],
    }));
    const [portA, portB, nginxPort] = [await freePort(), await freePort(), await freePort()];
    const common = {
      DATABASE_URL: postgres.createDatabase('iot_replicas'),
      MQTT_URL: broker.url,
      MQTT_USERNAME: BROKER_ADMIN.username,
      MQTT_PASSWORD: BROKER_ADMIN.password,
      MQTT_DYNSEC: 'true',
      MQTT_SHARE_GROUP: 'iot-api',
      // Every replica signs and checks the same tokens.
      JWT_SECRET: randomBytes(32).toString('hex'),
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      ALLOWED_ORIGINS: `http://127.0.0.1:${nginxPort}`,
      LOG_LEVEL: 'warn',
    };
    const replica = (name: string, port: number) => {
      const dir = mkdtempSync(join(tmpdir(), `iot-replica-${name}-`));
      dirs.push(dir);
      return new Replica(name, port, { ...common, DATA_DIR: dir });
    };
    const a = (started.a = replica('a', portA));
    const b = (started.b = replica('b', portB));
    // Both at once: one of them makes the schema and the first admin, the other finds them.
    await Promise.all([a.start(), b.start()]);
    const nginx = (started.nginx = await startNginx(nginxPort, [portA, portB]));
    const token = (await login(a.url, ADMIN.username, ADMIN.password)).accessToken;
    const as = (target: { url: string; port?: number }) =>
      ({ url: target.url, port: target.port, adminToken: token, mqttUrl: broker.url }) as TestApp;
    return { postgres, broker, nginx, a, b, token, as, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
