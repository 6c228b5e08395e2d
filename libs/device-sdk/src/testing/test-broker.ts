import { createServer, type AddressInfo } from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';

/** The client id, username and password of the observing "platform" client. */
export const PLATFORM_CLIENT = { clientId: 'platform', password: 'platform-secret' } as const;

/** An in-process aedes broker on a free port that checks device credentials like the platform does. */
export interface TestBroker {
  url: string;
  broker: Aedes;
  /** Client id → password; a client must use its id as its username. */
  passwords: Map<string, string>;
  close(): Promise<void>;
}

/** Options of {@link startTestBroker}. */
export interface TestBrokerOptions {
  /** Holds every SUBSCRIBE this long before granting it, to expose subscribe/publish races. */
  subscribeDelayMs?: number;
}

/** Starts a broker on 127.0.0.1, port 0, that accepts `passwords` (device id → secret). */
export async function startTestBroker(
  passwords: Record<string, string> = {},
  options: TestBrokerOptions = {},
): Promise<TestBroker> {
  const accepted = new Map(Object.entries({ ...passwords, [PLATFORM_CLIENT.clientId]: PLATFORM_CLIENT.password }));
  const broker = await Aedes.createBroker({
    drainTimeout: 2000,
    authenticate: (client, username, password, done) => {
      const expected = accepted.get(client.id);
      if (username === client.id && expected !== undefined && password?.toString() === expected) {
        done(null, true);
        return;
      }
      // 4: bad user name or password.
      done(Object.assign(new Error('bad credentials'), { returnCode: 4 }) as AuthenticateError, false);
    },
    authorizeSubscribe: (_client, subscription, done) => {
      setTimeout(() => done(null, subscription), options.subscribeDelayMs ?? 0);
    },
  });
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    broker,
    passwords: accepted,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One message a {@link Recorder} saw. */
export interface RecordedMessage {
  topic: string;
  text: string;
  retain: boolean;
  qos: number;
}

/** A plain MQTT.js client in the platform's seat: records what devices publish and publishes to them. */
export interface Recorder {
  client: MqttClient;
  messages: RecordedMessage[];
  /** Messages on `topic`, parsed as JSON. */
  json(topic: string): unknown[];
  /** Waits until `count` messages match, returning them. */
  waitFor(match: (message: RecordedMessage) => boolean, count?: number, timeoutMs?: number): Promise<RecordedMessage[]>;
  close(): Promise<void>;
}

/** Connects a recorder subscribed to `filter` (everything under `devices/` by default). */
export async function startRecorder(broker: TestBroker, filter = 'devices/#'): Promise<Recorder> {
  const client = await connectAsync(broker.url, {
    clientId: PLATFORM_CLIENT.clientId,
    username: PLATFORM_CLIENT.clientId,
    password: PLATFORM_CLIENT.password,
    reconnectPeriod: 0,
  });
  const messages: RecordedMessage[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, text: payload.toString('utf8'), retain: packet.retain, qos: packet.qos });
    for (const wake of [...waiters]) wake();
  });
  await client.subscribeAsync(filter, { qos: 1 });
  const waitFor: Recorder['waitFor'] = (match, count = 1, timeoutMs = 5000) =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = messages.filter(match);
        if (found.length < count) return false;
        waiters.delete(wake);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const wake = (): void => void check();
      const timer = setTimeout(() => {
        waiters.delete(wake);
        const seen = messages.map((m) => `${m.topic} ${m.text}`).join('\n  ');
        reject(new Error(`timed out waiting for ${count} matching message(s); saw:\n  ${seen}`));
      }, timeoutMs);
      waiters.add(wake);
      check();
    });
  return {
    client,
    messages,
    json: (topic) => messages.filter((m) => m.topic === topic).map((m) => JSON.parse(m.text) as unknown),
    waitFor,
    close: () => client.endAsync(),
  };
}
