import { createServer, type AddressInfo } from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';

/** The observing "platform" client's id and password. */
const PLATFORM = { clientId: 'platform', password: 'platform-secret' } as const;

/** An in-process aedes broker on a free port that checks passwords like the platform does. */
export interface TestBroker {
  url: string;
  /** Client id → password; a client must use its id as its username. Tests (and the fake api) edit it. */
  passwords: Map<string, string>;
  close(): Promise<void>;
}

/** Starts a broker on 127.0.0.1, port 0. */
export async function startTestBroker(): Promise<TestBroker> {
  const passwords = new Map<string, string>([[PLATFORM.clientId, PLATFORM.password]]);
  const broker = await Aedes.createBroker({
    drainTimeout: 2000,
    authenticate: (client, username, password, done) => {
      const expected = passwords.get(client.id);
      if (username === client.id && expected !== undefined && password?.toString() === expected) {
        done(null, true);
        return;
      }
      done(Object.assign(new Error('bad credentials'), { returnCode: 4 }) as AuthenticateError, false);
    },
  });
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    passwords,
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
}

/** A plain MQTT.js client in the platform's seat: records everything under `devices/`. */
export interface Recorder {
  client: MqttClient;
  messages: RecordedMessage[];
  /** Waits until at least `count` messages match, returning them. */
  waitFor(match: (message: RecordedMessage) => boolean, count?: number, timeoutMs?: number): Promise<RecordedMessage[]>;
  close(): Promise<void>;
}

export async function startRecorder(broker: TestBroker): Promise<Recorder> {
  const client = await connectAsync(broker.url, {
    clientId: PLATFORM.clientId,
    username: PLATFORM.clientId,
    password: PLATFORM.password,
    reconnectPeriod: 0,
  });
  const messages: RecordedMessage[] = [];
  client.on('message', (topic, payload, packet) =>
    messages.push({ topic, text: payload.toString('utf8'), retain: packet.retain }),
  );
  await client.subscribeAsync('devices/#', { qos: 1 });
  return {
    client,
    messages,
    waitFor: async (match, count = 1, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.filter(match);
        if (found.length >= count) return found;
        if (Date.now() > deadline) {
          const seen = messages
            .slice(-30)
            .map((m) => `${m.topic} ${m.text}`)
            .join('\n  ');
          throw new Error(`timed out waiting for ${count} matching message(s); last seen:\n  ${seen}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () => client.endAsync(),
  };
}
