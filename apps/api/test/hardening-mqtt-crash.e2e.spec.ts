import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MqttClient } from 'mqtt';
import { ADMIN, type TestApp, connectDevice, createDevice, historyOf, login, startApp, within } from './harness';

describe('MQTT hardening: no acknowledged message is lost when the api is killed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iot-crash-'));
  const env = {
    ...process.env,
    SWC_NODE_PROJECT: resolve(__dirname, '../bench/tsconfig.json'),
    DATA_DIR: dir,
    PORT: '0',
    MQTT_PORT: '0',
    HOST: '127.0.0.1',
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: 'error',
  };

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds every PUBACKed QoS 1 message in history after kill -9 and a restart', async () => {
    // The api in its own process, from source, so that it can be killed outright.
    const start = `require('./apps/api/src/app/create-app').createApp(require('./apps/api/src/platform/config/config').loadConfig())
      .then((app) => console.log(JSON.stringify({ url: app.url, mqttPort: app.mqttPort })), (e) => { console.error(e); process.exit(1); });`;
    const child = spawn(process.execPath, ['--require', '@swc-node/register', '-e', start], {
      cwd: resolve(__dirname, '../../..'),
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    try {
      const ports = await within(
        new Promise<{ url: string; mqttPort: number }>((done, fail) => {
          let out = '';
          child.stdout.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            const line = out.split('\n').find((l) => l.startsWith('{'));
            if (line) done(JSON.parse(line) as { url: string; mqttPort: number });
          });
          child.once('exit', (code) => fail(new Error(`the api exited with ${code}`)));
        }),
        20_000,
        'the api to start',
      );
      const first = {
        url: ports.url,
        mqttUrl: `mqtt://127.0.0.1:${ports.mqttPort}`,
        adminToken: (await login(ports.url, ADMIN.username, ADMIN.password)).accessToken,
      } as TestApp;

      const ids = ['crash-1', 'crash-2', 'crash-3'];
      const acked = new Map<string, number[]>(ids.map((id) => [id, []]));
      const clients: MqttClient[] = [];
      let total = 0;
      let enough!: () => void;
      const reached = new Promise<void>((done) => (enough = done));
      for (const id of ids) {
        const { credentials } = await createDevice(first, id);
        const client = await connectDevice(first, credentials);
        client.on('error', () => undefined);
        clients.push(client);
        let next = 0;
        // Up to 50 messages in flight per device, each one's number counted once its PUBACK is in.
        const pump = () => {
          const n = ++next;
          client.publish(`devices/${id}/telemetry`, JSON.stringify({ n }), { qos: 1 }, (error) => {
            if (error) return;
            acked.get(id)?.push(n);
            if (++total === 3_000) enough();
            if (!child.killed) pump();
          });
        };
        for (let i = 0; i < 50; i++) pump();
      }
      await within(reached, 20_000, '3,000 acknowledged messages');
      child.kill('SIGKILL');
      await exited;
      clients.forEach((client) => client.end(true));

      const second = await startApp({}, dir);
      try {
        for (const id of ids) {
          const stored = new Set(await historyOf(second, id, 'n'));
          const missing = acked.get(id)?.filter((n) => !stored.has(n)) ?? [];
          expect({ id, missing }).toEqual({ id, missing: [] });
        }
      } finally {
        await second.stop({ keepData: true });
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
});
