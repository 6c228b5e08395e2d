import type { ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import {
  CountingPublisher,
  StreamRecorder,
  type TestApp,
  api as request,
  createDevice,
  historyOf,
  metric,
  readyz,
  sequence,
  spawnApiFromSource,
  startApp,
  until,
  valuesOf,
} from './harness';
import { type TestMosquitto, mosquittoMissing, startMosquitto } from './mosquitto';
import { type TestPostgres, postgresMissing, startPostgres } from './postgres';

const missingPostgres = postgresMissing();
const missingMosquitto = mosquittoMissing();
if (missingPostgres) console.warn(`skipping the PostgreSQL fault tests: ${missingPostgres}`);
else if (missingMosquitto) console.warn(`skipping the PostgreSQL restart test with Mosquitto: ${missingMosquitto}`);

/** The api as a process of its own, with what it printed. */
class ApiProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'iot-pg-start-'));
  output = '';
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(env: Record<string, string>) {
    this.child = spawnApiFromSource({ DATA_DIR: this.dataDir, ADMIN_PASSWORD: 'admin-password-for-tests', ...env });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream.on('data', (chunk: Buffer) => {
        this.output += chunk.toString();
        this.waiters.splice(0).forEach((wake) => wake());
      });
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    void this.exited.then(() => this.waiters.splice(0).forEach((wake) => wake()));
  }

  /** Resolves with the first match of `pattern` in the output; fails if the process exits first. */
  async printed(pattern: RegExp): Promise<RegExpExecArray> {
    for (;;) {
      const match = pattern.exec(this.output);
      if (match) return match;
      if (this.child.exitCode !== null) throw new Error(`the api exited (${this.child.exitCode}): ${this.output}`);
      await new Promise<void>((wake) => this.waiters.push(wake));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

(missingPostgres ? describe.skip : describe)('faults of PostgreSQL (DATABASE_URL)', () => {
  let postgres: TestPostgres;
  let restartUrl: string;
  let lateUrl: string;

  beforeAll(async () => {
    postgres = await startPostgres();
    restartUrl = postgres.createDatabase('restart');
    lateUrl = postgres.createDatabase('late');
  }, 60_000);

  afterAll(() => postgres?.stop());

  describe('with an external Mosquitto broker (MQTT_URL)', () => {
    let broker: TestMosquitto | undefined;
    let app: TestApp | undefined;
    let device: MqttClient | undefined;

    afterEach(async () => {
      device?.end(true);
      await app?.stop();
      await broker?.stop();
      device = app = broker = undefined;
    });

    (missingMosquitto ? it.skip : it)(
      'stores every QoS 1 message a device published across a PostgreSQL restart, once each and in order',
      async () => {
        // $SYS every second: the broker's count of the messages it holds.
        broker = await startMosquitto({ persistence: true, config: ['sys_interval 1'] });
        const monitor = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
        let held = 0;
        monitor.on('message', (_topic, payload) => (held = Number(payload.toString())));
        await monitor.subscribeAsync('$SYS/broker/store/messages/count');
        app = await startApp({ DATABASE_URL: restartUrl, MQTT_URL: broker.url });
        await createDevice(app, 'pg-restart-1');
        const stream = new StreamRecorder(app, app.adminToken, '?devices=pg-restart-1&events=telemetry');
        await stream.opened();
        device = await mqtt.connectAsync(broker.url, { clientId: 'pg-restart-1', clean: false, reconnectPeriod: 100 });
        const client = device;
        const publisher = new CountingPublisher(client, 'devices/pg-restart-1/telemetry', 5);
        try {
          await stream.waitFor((e) => e.length >= 50);
          postgres.down();
          const atDown = publisher.published;
          try {
            const down = await readyz(app);
            expect(down.status).toBe(503);
            expect(down.text).toContain('database: PostgreSQL does not answer');
            await until(() => publisher.published >= atDown + 100, 'the device to publish during the outage');
            // What the api took but could not store yet is not acknowledged: the broker keeps it.
            await until(() => held >= 100, 'the broker to hold the messages the api has not stored');
          } finally {
            postgres.up();
          }
          const atUp = publisher.published;
          await stream.waitFor((e) => e.length >= atUp + 50, 20_000);
        } finally {
          publisher.halt();
        }
        await publisher.stop();
        const published = publisher.published;
        await stream.waitFor((e) => e.length >= published, 20_000);
        // The broker stayed up, so the device sent nothing twice; what the api took while PostgreSQL was down was
        // not acknowledged until stored, and nothing is taken twice.
        expect(valuesOf(stream)).toEqual(sequence(published));
        expect(await historyOf(app, 'pg-restart-1', 'n')).toEqual(sequence(published));
        expect((await readyz(app)).status).toBe(200);
        stream.close();
        await monitor.endAsync();
      },
      60_000,
    );

    (missingMosquitto ? it.skip : it)(
      'does not acknowledge a reported state it could not store: the broker delivers it again until it is stored',
      async () => {
        broker = await startMosquitto({ persistence: true });
        app = await startApp({ DATABASE_URL: restartUrl, MQTT_URL: broker.url });
        await createDevice(app, 'pg-state-1');
        device = await mqtt.connectAsync(broker.url, { clientId: 'pg-state-1', reconnectPeriod: 0 });
        const received = () => metric(app!, 'iot_messages_received_total{kind="state.reported"}');
        postgres.down();
        try {
          await device.publishAsync('devices/pg-state-1/state/reported', JSON.stringify({ fw: '1.2' }), { qos: 1 });
          // Taken again: the api reconnected without acknowledging it, and the broker delivered it again.
          await until(async () => (await received()) >= 2, 'the broker to deliver the state again');
        } finally {
          postgres.up();
        }
        await until(async () => {
          const { status, body } = await request<{ reported: { fw?: string } }>(
            app!,
            app!.adminToken,
            'GET',
            '/devices/pg-state-1/state',
          );
          return status === 200 && body.reported.fw === '1.2';
        }, 'the reported state to be stored');
      },
      60_000,
    );
  });

  describe('unreachable when the api starts', () => {
    let api: ApiProcess | undefined;
    let down = false;
    const stopPostgres = () => {
      postgres.down();
      down = true;
    };
    const startPostgresAgain = () => {
      postgres.up();
      down = false;
    };

    afterEach(async () => {
      await api?.stop();
      api = undefined;
      if (down) startPostgresAgain();
    });

    it('waits for PostgreSQL, saying so, and is ready once it is up', async () => {
      stopPostgres();
      api = new ApiProcess({ DATABASE_URL: lateUrl, DATABASE_CONNECT_TIMEOUT_SECONDS: '60', LOG_LEVEL: 'log' });
      await api.printed(/PostgreSQL is not reachable \(.*ECONNREFUSED.*\); retrying for up to 60 s/);
      startPostgresAgain();
      const [, port] = await api.printed(/api listening on http:\/\/[^:]+:(\d+)/);
      const url = `http://127.0.0.1:${port}`;
      await until(async () => (await readyz({ url })).status === 200, 'the api to be ready');
    }, 60_000);

    it('exits 69 naming DATABASE_CONNECT_TIMEOUT_SECONDS when PostgreSQL stays down', async () => {
      stopPostgres();
      api = new ApiProcess({ DATABASE_URL: lateUrl, DATABASE_CONNECT_TIMEOUT_SECONDS: '2', LOG_LEVEL: 'error' });
      expect(await api.exited).toBe(69);
      expect(api.output).toMatch(
        /^cannot start: PostgreSQL could not be reached within 2 s \(DATABASE_CONNECT_TIMEOUT_SECONDS\): .*ECONNREFUSED/m,
      );
      expect(api.output).not.toMatch(/^\s+at /m);
    }, 30_000);
  });
});
