import { type ChildProcess, fork } from 'node:child_process';
import { Socket } from 'node:net';
import { connect, type MqttClient } from 'mqtt';
import { generate } from 'mqtt-packet';
import type { DeviceCredential } from './api-process';
import { nowEpochMs } from './clock';

/**
 * MQTT load generation, in child processes so that the generator's CPU is
 * measured apart from the SSE readers and can use more than one core.
 *
 * Coordinator → publisher: `init`, then `start`, then `stop`.
 * Publisher → coordinator: `ready`, then `done`, then it exits on `stop`.
 */
export type PublisherJob =
  | {
      /**
       * As fast as the socket takes it, until `messages` or `durationMs`; with
       * `credited`, never past the count the coordinator last granted.
       */
      mode: 'flood';
      messages: number;
      durationMs: number;
      credited: boolean;
      /** QoS 1: a device waits for PUBACKs past QOS1_IN_FLIGHT unacknowledged messages. Default 0. */
      qos?: 0 | 1;
    }
  | {
      /** Paced: `rate` messages/s spread evenly over time and over the devices, for `durationMs` or until halted. */
      mode: 'paced';
      rate: number;
      durationMs: number;
      qos?: 0 | 1;
    };

type ToPublisher =
  | { type: 'init'; mqttUrl: string; devices: DeviceCredential[]; job: PublisherJob }
  | { type: 'start' }
  /** This publisher may have published up to `upTo` messages in all. */
  | { type: 'credit'; upTo: number }
  /** Ends a paced run now: the publisher reports `done` with what it sent (the clients stay connected). */
  | { type: 'halt' }
  | { type: 'stop' };

export interface PublisherResult {
  sent: number;
  /** Epoch ms (performance.timeOrigin + performance.now()) of the first and last publish. */
  firstPublishAt: number;
  lastPublishAt: number;
  /** Times a client's socket was full and publishing waited for 'drain'. */
  drainWaits: number;
  /** Times a client waited for credit (closed loop only). */
  creditWaits: number;
  /** PUBACKs received (QoS 1). */
  acked: number;
  /** Times a client waited for PUBACKs with QOS1_IN_FLIGHT messages unacknowledged (QoS 1 floods). */
  ackWaits: number;
  errors: string[];
}

type FromPublisher =
  | { type: 'ready'; connectMs: number }
  | { type: 'done'; result: PublisherResult }
  | { type: 'error'; message: string };

export const PUBLISHER_ROLE_ENV = 'IOT_BENCH_ROLE';

/** Publishes per batch before yielding to the event loop (lets acks, pings and other clients in). */
const FLOOD_BATCH = 64;
/** How often the paced publisher wakes up to send what is due. */
const PACE_TICK_MS = 1;
/** QoS 1 messages a device has published and not yet seen acknowledged, at most (floods). */
export const QOS1_IN_FLIGHT = 100;

function send(message: FromPublisher): void {
  process.send?.(message);
}

/** Flow control from the coordinator: how many messages this publisher may have sent. */
const credit = {
  upTo: 0,
  waiting: [] as Array<() => void>,
  grant(upTo: number): void {
    if (upTo <= this.upTo) return;
    this.upTo = upTo;
    for (const wake of this.waiting.splice(0)) wake();
  },
  wakeAll(): void {
    for (const wake of this.waiting.splice(0)) wake();
  },
};

/** Set by `halt`: the paced run in progress ends at its next tick. */
const halt = { requested: false };

/** Entry point of a publisher child process. */
export function runPublisher(): void {
  let clients: MqttClient[] = [];
  let devices: DeviceCredential[] = [];
  let job: PublisherJob | undefined;
  process.on('message', (message: ToPublisher) => {
    switch (message.type) {
      case 'init':
        job = message.job;
        devices = message.devices;
        connectAll(message.mqttUrl, devices).then(
          ({ list, ms }) => {
            clients = list;
            send({ type: 'ready', connectMs: ms });
          },
          (error: Error) => send({ type: 'error', message: `connect: ${error.message}` }),
        );
        break;
      case 'credit':
        credit.grant(message.upTo);
        break;
      case 'halt':
        halt.requested = true;
        break;
      case 'start':
        if (!job) return;
        halt.requested = false;
        (job.mode === 'flood' ? flood(clients, devices, job) : paced(clients, devices, job)).then(
          (result) => send({ type: 'done', result }),
          (error: Error) => send({ type: 'error', message: error.message }),
        );
        break;
      case 'stop':
        // Each end's failure is caught, so the exit always runs.
        void Promise.all(clients.map((c) => c.endAsync().catch(() => undefined))).finally(() => process.exit(0));
        setTimeout(() => process.exit(0), 3_000).unref();
        break;
    }
  });
  process.on('disconnect', () => process.exit(0));
}

async function connectAll(url: string, devices: DeviceCredential[]): Promise<{ list: MqttClient[]; ms: number }> {
  const started = performance.now();
  const list: MqttClient[] = [];
  // A few at a time, as a fleet coming back after an outage would.
  const concurrency = 10;
  for (let i = 0; i < devices.length; i += concurrency) {
    const batch = devices.slice(i, i + concurrency).map(
      (d) =>
        new Promise<MqttClient>((resolve, reject) => {
          const client = connect(url, {
            clientId: d.id,
            username: d.id,
            password: d.password,
            protocolVersion: 4,
            clean: true,
            reconnectPeriod: 0,
            connectTimeout: 30_000,
            keepalive: 60,
          });
          client.once('connect', () => {
            // As the device SDK does: a small publish goes out at once, not after the last one's ACK (Nagle).
            if (client.stream instanceof Socket) client.stream.setNoDelay(true);
            resolve(client);
          });
          client.once('error', reject);
        }),
    );
    list.push(...(await Promise.all(batch)));
  }
  for (const client of list) {
    client.on('error', (error) => send({ type: 'error', message: `${client.options.clientId}: ${error.message}` }));
  }
  return { list, ms: Math.round(performance.now() - started) };
}

/**
 * Publishes flat telemetry (3 keys) as fast as each socket takes it. QoS 0
 * has no acks, so the socket is one brake: a client publishes while its
 * socket's buffer is under the high-water mark and waits for 'drain' when it
 * is not, so nothing piles up in the generator's memory. The api reads its
 * sockets faster than it stores, so TCP alone does not hold a flood back:
 * with `credited`, the coordinator also caps the messages in flight
 * (published but not yet seen on the SSE stream), a closed loop that runs at
 * what the api can store and deliver.
 *
 * The PUBLISH packets are encoded by mqtt-packet (MQTT.js's own encoder) and
 * written to the client's socket a batch at a time, past MQTT.js's publish
 * path: the generator shares the machine with the api, and its CPU per
 * message is under half of MQTT.js's this way. The api sees the same bytes.
 */
function flood(
  clients: MqttClient[],
  devices: DeviceCredential[],
  job: Extract<PublisherJob, { mode: 'flood' }>,
): Promise<PublisherResult> {
  const result: PublisherResult = {
    sent: 0,
    firstPublishAt: 0,
    lastPublishAt: 0,
    drainWaits: 0,
    creditWaits: 0,
    acked: 0,
    ackWaits: 0,
    errors: [],
  };
  const qos = job.qos ?? 0;
  const deadline = performance.now() + job.durationMs;
  let remaining = job.messages;
  let active = clients.length;
  return new Promise((resolve) => {
    if (active === 0 || remaining === 0) return resolve(result);
    result.firstPublishAt = nowEpochMs();
    // Paused pumps must still see the deadline if credit stops coming (e.g. the stream broke).
    const ackWaiters: Array<() => void> = [];
    const timer = setTimeout(() => {
      credit.wakeAll();
      for (const wake of ackWaiters) wake();
    }, job.durationMs + 10);
    const finish = () => {
      if (--active === 0) {
        clearTimeout(timer);
        result.lastPublishAt = nowEpochMs();
        resolve(result);
      }
    };
    const limit = () => (job.credited ? credit.upTo : Infinity);
    clients.forEach((client, index) => {
      const topic = `devices/${devices[index].id}/telemetry`;
      const stream = client.stream;
      let n = 0;
      // QoS 1: the PUBACKs come back to MQTT.js, which ignores ids it did not send; count them here.
      let unacked = 0;
      let waitingForAcks = false;
      const wake = () => {
        if (!waitingForAcks) return;
        waitingForAcks = false;
        pump();
      };
      if (qos === 1) {
        ackWaiters.push(wake); // at the deadline too, should the acks stop coming
        client.on('packetreceive', (packet) => {
          if (packet.cmd !== 'puback') return;
          result.acked++;
          unacked--;
          if (unacked <= QOS1_IN_FLIGHT / 2) wake();
        });
      }
      const pump = (): void => {
        if (remaining <= 0 || performance.now() >= deadline || !client.connected) return finish();
        if (result.sent >= limit()) {
          result.creditWaits++;
          credit.waiting.push(pump);
          return;
        }
        if (qos === 1 && unacked >= QOS1_IN_FLIGHT) {
          result.ackWaits++;
          waitingForAcks = true;
          return;
        }
        const packets: Buffer[] = [];
        for (let i = 0; i < FLOOD_BATCH && remaining > 0 && result.sent < limit(); i++) {
          if (qos === 1 && unacked >= QOS1_IN_FLIGHT) break;
          remaining--;
          n++;
          const payload = `{"temperature":${20 + (n % 100) / 10},"humidity":${40 + (n % 50)},"n":${n}}`;
          if (qos === 1) {
            unacked++;
            packets.push(
              generate({
                cmd: 'publish',
                topic,
                payload,
                qos: 1,
                messageId: (n % 65535) + 1,
                retain: false,
                dup: false,
              }),
            );
          } else {
            packets.push(generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false }));
          }
          result.sent++;
        }
        if (!stream.write(packets.length === 1 ? packets[0] : Buffer.concat(packets))) {
          result.drainWaits++;
          stream.once('drain', pump);
          return;
        }
        setImmediate(pump);
      };
      pump();
    });
  });
}

/**
 * Publishes `rate` messages/s in total, evenly: every tick it sends what is
 * due by now, round-robin over the devices, each payload carrying its send
 * time as the numeric telemetry key `sent`.
 */
function paced(
  clients: MqttClient[],
  devices: DeviceCredential[],
  job: Extract<PublisherJob, { mode: 'paced' }>,
): Promise<PublisherResult> {
  const result: PublisherResult = {
    sent: 0,
    firstPublishAt: 0,
    lastPublishAt: 0,
    drainWaits: 0,
    creditWaits: 0,
    acked: 0,
    ackWaits: 0,
    errors: [],
  };
  const qos = job.qos ?? 0;
  const topics = devices.map((d) => `devices/${d.id}/telemetry`);
  const total = Math.round((job.rate * job.durationMs) / 1000);
  let next = 0;
  return new Promise((resolve) => {
    if (clients.length === 0 || total === 0) return resolve(result);
    const started = performance.now();
    const tick = () => {
      const elapsed = performance.now() - started;
      const due = Math.min(total, Math.floor((elapsed * job.rate) / 1000) + 1);
      while (result.sent < due) {
        const i = next;
        next = (next + 1) % clients.length;
        const client = clients[i];
        if (!client.connected) {
          result.errors.push(`${devices[i].id} disconnected`);
          return resolve(result);
        }
        const sent = nowEpochMs();
        if (result.sent === 0) result.firstPublishAt = sent;
        result.lastPublishAt = sent;
        client.publish(
          topics[i],
          `{"sent":${sent},"temperature":${20 + (result.sent % 100) / 10},"n":${result.sent}}`,
          { qos },
          qos === 1 ? () => result.acked++ : undefined,
        );
        if (client.stream.writableNeedDrain) result.drainWaits++;
        result.sent++;
      }
      if (result.sent >= total || halt.requested) resolve(result);
      else setTimeout(tick, PACE_TICK_MS);
    };
    tick();
  });
}

/** The coordinator's handle on the publisher processes. */
export class PublisherPool {
  private readonly children: ChildProcess[] = [];
  readonly connectMs: number[] = [];

  /** Forks `workers` publishers (this same script), splits the devices among them and connects them all. */
  static async start(
    mqttUrl: string,
    devices: DeviceCredential[],
    workers: number,
    jobFor: (index: number, of: number) => PublisherJob,
  ): Promise<PublisherPool> {
    const pool = new PublisherPool();
    const n = Math.max(1, Math.min(workers, devices.length));
    const ready: Promise<void>[] = [];
    for (let w = 0; w < n; w++) {
      const child = fork(process.argv[1], [], {
        env: { ...process.env, [PUBLISHER_ROLE_ENV]: 'publisher' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      pool.children.push(child);
      const slice = devices.filter((_, i) => i % n === w);
      ready.push(
        pool.expect(child, 'ready').then((m) => {
          pool.connectMs.push((m as { connectMs: number }).connectMs);
        }),
      );
      child.send({ type: 'init', mqttUrl, devices: slice, job: jobFor(w, n) } satisfies ToPublisher);
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      pool.stop();
      throw error;
    }
    return pool;
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** Starts every publisher at once; resolves with their results, merged. */
  async run(): Promise<PublisherResult & { perWorker: number[] }> {
    const done = this.children.map((child) => this.expect(child, 'done'));
    for (const child of this.children) child.send({ type: 'start' } satisfies ToPublisher);
    const results = (await Promise.all(done)).map((m) => (m as { result: PublisherResult }).result);
    return {
      sent: results.reduce((a, r) => a + r.sent, 0),
      firstPublishAt: Math.min(...results.map((r) => r.firstPublishAt).filter((t) => t > 0)),
      lastPublishAt: Math.max(...results.map((r) => r.lastPublishAt)),
      drainWaits: results.reduce((a, r) => a + r.drainWaits, 0),
      creditWaits: results.reduce((a, r) => a + r.creditWaits, 0),
      acked: results.reduce((a, r) => a + r.acked, 0),
      ackWaits: results.reduce((a, r) => a + r.ackWaits, 0),
      errors: results.flatMap((r) => r.errors),
      perWorker: results.map((r) => r.sent),
    };
  }

  /** Ends the paced runs in progress: run() then resolves with what was sent. */
  halt(): void {
    for (const child of this.children) if (child.connected) child.send({ type: 'halt' } satisfies ToPublisher);
  }

  /** Lets the publishers have published `total` messages between them (closed-loop floods). */
  credit(total: number): void {
    const each = Math.ceil(total / this.children.length);
    for (const child of this.children)
      if (child.connected) child.send({ type: 'credit', upTo: each } satisfies ToPublisher);
  }

  stop(): void {
    for (const child of this.children) {
      if (child.connected) child.send({ type: 'stop' } satisfies ToPublisher);
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }
  }

  /** stop(), then waits for every publisher to exit (so their clients close before the api does). */
  async close(): Promise<void> {
    const exited = this.children.map((child) =>
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((resolve) => child.once('exit', () => resolve())),
    );
    this.stop();
    await Promise.all(exited);
  }

  private expect(child: ChildProcess, type: FromPublisher['type']): Promise<FromPublisher> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromPublisher) => {
        if (message.type === 'error') {
          // Errors after the run started are reported, not fatal: the counts tell the story.
          console.error(`publisher ${child.pid}: ${message.message}`);
          if (type === 'ready') {
            cleanup();
            reject(new Error(message.message));
          }
          return;
        }
        if (message.type === type) {
          cleanup();
          resolve(message);
        }
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`publisher ${child.pid} exited (${code}) while waiting for ${type}`));
      };
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }
}
