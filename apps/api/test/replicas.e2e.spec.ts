import type { MqttClient } from 'mqtt';
import type { CommandWithHistory } from '../src/domain/commands';
import { type ReceivedEvent, StreamRecorder, api, connectDevice, createDevice, login, until, within } from './harness';
import type { RunningNginx } from './nginx';
import { type Replica, type ReplicaTopology, startReplicaTopology, topologyMissing } from './replicas';
import { SocketClient } from './socket-client';

// The deployment of deploy/docker-compose.yml as processes (see ./replicas.ts).
const skipReason = topologyMissing();
if (skipReason) console.warn(`skipping the replica tests: ${skipReason}`);
const describeWithTopology = skipReason ? describe.skip : describe;

const TERMINAL = new Set(['succeeded', 'failed', 'timed-out', 'expired', 'cancelled']);

/** A device's telemetry numbers in the order a stream got them. */
function numbers(events: ReceivedEvent[], deviceId: string): number[] {
  return events
    .filter((e) => e.type === 'telemetry' && e.data['deviceId'] === deviceId)
    .map((e) => (e.data['values'] as { n: number }).n);
}

/** Seqs of event ids, which must rise. */
function seqs(events: ReceivedEvent[]): number[] {
  return events.map((e) => Number(e.id.split('-')[1]));
}

describeWithTopology('two api replicas on PostgreSQL and Mosquitto, behind nginx', () => {
  let topology: ReplicaTopology;
  let nginx: RunningNginx;
  let a: Replica;
  let b: Replica;
  let token: string;
  const devices: MqttClient[] = [];
  /** Streams to close even when a test fails (EventSource reconnects for ever). */
  const streams: StreamRecorder[] = [];
  const as = (replica: { url: string; port?: number }) => topology.as(replica);

  beforeAll(async () => {
    topology = await startReplicaTopology();
    ({ nginx, a, b, token } = topology);
  }, 120_000);

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await Promise.all(devices.map((device) => device.endAsync(true)));
    await topology?.stop();
  });

  async function device(id: string, through: Replica | RunningNginx = a): Promise<MqttClient> {
    const { credentials } = await createDevice(as(through), id);
    // Mosquitto checks the secret the api issued: dynamic security got it before the answer.
    const client = await connectDevice(as(through), credentials, { protocolVersion: 5 });
    devices.push(client);
    return client;
  }

  it('a device registered through one replica logs in to Mosquitto, and both replicas stream its telemetry in the same order', async () => {
    const both = [a, b].map((replica) => new StreamRecorder(replica, token, '?devices=rep-1&events=telemetry'));
    streams.push(...both);
    await Promise.all(both.map((stream) => stream.opened()));
    const client = await device('rep-1', a);
    for (let n = 1; n <= 40; n++) await client.publishAsync('devices/rep-1/telemetry', JSON.stringify({ n }), { qos: 1 });
    await Promise.all(both.map((stream) => stream.waitFor((events) => events.length >= 40, 15_000)));
    for (const stream of both) stream.close();
    // The broker spreads the messages over both replicas; each streams the one log, so both see the same events.
    const [fromA, fromB] = both.map((stream) => stream.events);
    expect(fromB.map((e) => e.id)).toEqual(fromA.map((e) => e.id));
    expect(seqs(fromA)).toEqual([...seqs(fromA)].sort((x, y) => x - y));
    expect(numbers(fromA, 'rep-1').sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // Resumed on the other replica from an id the first one gave.
    const resumed = new StreamRecorder(b, token, '?devices=rep-1&events=telemetry', fromA[29].id);
    await resumed.waitFor((events) => events.length >= 10);
    resumed.close();
    expect(resumed.events.map((e) => e.id)).toEqual(fromA.slice(30).map((e) => e.id));
  });

  it('users and sessions changed through one replica hold on the other at once', async () => {
    expect((await api(a, token, 'POST', '/users', { username: 'olga', password: 'olga-password-1', role: 'operator' })).status).toBe(
      201,
    );
    // Made through A a moment ago; B lets the user in.
    const olga = (await login(b.url, 'olga', 'olga-password-1')).accessToken;
    expect((await api(a, olga, 'GET', '/devices')).status).toBe(200);
    const stream = new StreamRecorder(b, olga, '?events=status');
    await stream.opened();
    const ended = new Promise<void>((resolve) => stream.source.addEventListener('error', () => resolve(), { once: true }));
    // A new role through A ends the user's sessions everywhere: B closes its stream and refuses the token.
    expect((await api(a, token, 'PATCH', '/users/olga', { role: 'viewer' })).status).toBe(200);
    await within(ended, 5_000, "the stream on B closed by a role change through A");
    stream.close();
    expect((await api(b, olga, 'GET', '/devices')).status).toBe(401);
    const viewer = (await login(a.url, 'olga', 'olga-password-1')).accessToken;
    expect((await api(b, viewer, 'GET', '/auth/me')).body).toMatchObject({ role: 'viewer' });
  });

  it("a user's scope holds on the other replica, which follows a device relabelled through the first", async () => {
    const made = await api(a, token, 'POST', '/users', {
      username: 'sita',
      password: 'sita-password-1',
      role: 'operator',
      scope: 'site=a',
    });
    expect(made.status).toBe(201);
    const sita = (await login(b.url, 'sita', 'sita-password-1')).accessToken;
    await createDevice(as(a), 'rep-scope');
    const statusOnB = async () => (await api(b, sita, 'GET', '/devices/rep-scope')).status;
    expect(await statusOnB()).toBe(404);
    await api(a, token, 'PATCH', '/devices/rep-scope', { labels: { site: 'a' } });
    await until(async () => (await statusOnB()) === 200, 'B to see the device relabelled into the scope through A');
    await api(a, token, 'PATCH', '/devices/rep-scope', { labels: { site: 'b' } });
    await until(async () => (await statusOnB()) === 404, 'B to hide the device relabelled out of the scope through A');
  });

  it('a command sent through one replica gets its results, whichever replica the device answers through', async () => {
    const client = await device('rep-2', b);
    client.on('message', (topic) => {
      if (!/^devices\/rep-2\/commands\/[^/]+$/.test(topic)) return;
      client.publish(`${topic}/result`, JSON.stringify({ status: 'accepted' }), { qos: 1 });
      client.publish(`${topic}/result`, JSON.stringify({ status: 'succeeded', result: { ok: true } }), { qos: 1 });
    });
    await client.subscribeAsync('devices/rep-2/commands/+', { qos: 1 });
    await client.publishAsync('devices/rep-2/status', 'online', { qos: 1, retain: true });
    const ws = await SocketClient.open(a, token);
    const ids = Array.from({ length: 10 }, (_, i) => `c${i}`);
    for (const requestId of ids) ws.send('command.send', { requestId, deviceId: 'rep-2', name: 'relay.set' });
    await ws.waitFor(() => ids.every((id) => ws.statuses(id).includes('succeeded')), 15_000).catch((error: Error) => {
      throw new Error(`${error.message.slice(0, 100)}; statuses: ${JSON.stringify(ids.map((id) => ws.statuses(id)))}`);
    });
    await ws.close();
    for (const requestId of ids) {
      const statuses = ws.statuses(requestId);
      expect(statuses.filter((status) => TERMINAL.has(status))).toEqual(['succeeded']);
      expect(statuses.filter((status) => status === 'accepted').length).toBeLessThanOrEqual(1);
    }
  });

  it(
    'one replica killed (kill -9) while 20 devices publish: clients resume through nginx with every event once, every command ends once',
    async () => {
      const fleet = await Promise.all(Array.from({ length: 20 }, (_, i) => device(`fleet-${i}`, nginx as unknown as Replica)));
      const silent = await device('silent-1', nginx as unknown as Replica);
      await silent.publishAsync('devices/silent-1/status', 'online', { qos: 1, retain: true });
      const clients = Array.from({ length: 4 }, () => new StreamRecorder(nginx, token, '?events=telemetry'));
      streams.push(...clients);
      await Promise.all(clients.map((client) => client.opened()));
      // Every device publishes QoS 1 telemetry every 20 ms: 1,000 messages a second in all.
      const sent = new Map<string, number>();
      let publishing = true;
      const publishers = fleet.map(async (client, i) => {
        const id = `fleet-${i}`;
        for (let n = 1; publishing; n++) {
          await client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ n }), { qos: 1 });
          sent.set(id, n);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      });
      // Commands to a device that never answers, through nginx (either replica), ending by their timeout.
      let commanding = true;
      const commands = (async () => {
        while (commanding) {
          await api(nginx, token, 'POST', '/devices/silent-1/commands', { name: 'ping', timeoutMs: 1_500 }).catch(
            () => undefined, // a request in flight to the killed replica
          );
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      await Promise.all(clients.map((client) => client.waitFor((events) => events.length >= 200, 15_000)));
      await a.kill();
      // The clients' connections through nginx to A broke; they reconnect with Last-Event-ID and reach B.
      await Promise.all(clients.map((client) => client.waitFor((events) => events.length >= 2_000, 30_000)));
      // Back with the same MQTT client id: the messages the broker kept in A's session are delivered.
      await a.start();
      commanding = false;
      await commands;
      publishing = false;
      await Promise.all(publishers);
      const total = [...sent.values()].reduce((sum, n) => sum + n, 0);
      const missing = (events: ReceivedEvent[]) =>
        [...sent].flatMap(([id, last]) => {
          const got = new Set(numbers(events, id));
          return Array.from({ length: last }, (_, i) => i + 1)
            .filter((n) => !got.has(n))
            .map((n) => `${id}:${n}`);
        });
      try {
        await Promise.all(clients.map((client) => client.waitFor((events) => missing(events).length === 0, 30_000)));
      } catch (error) {
        throw new Error(`${(error as Error).message.slice(0, 200)}; missing ${missing(clients[0].events).slice(0, 40).join(' ')}`);
      } finally {
        for (const client of clients) client.close();
      }
      const first = clients[0].events;
      for (const client of clients) {
        // The same log, each event once, in seq order, whichever replicas served it.
        expect(client.events.map((e) => e.id)).toEqual(first.map((e) => e.id));
      }
      expect(new Set(first.map((e) => e.id)).size).toBe(first.length);
      expect(seqs(first)).toEqual([...seqs(first)].sort((x, y) => x - y));
      for (const [id, last] of sent) {
        expect(new Set(numbers(first, id))).toEqual(new Set(Array.from({ length: last }, (_, i) => i + 1)));
      }
      // A message A stored but had not acknowledged when it died comes again from the broker: rare, and told apart by n.
      expect(first.length - total).toBeLessThan(total / 100);
      // Every command reaches exactly one terminal status, A's included (B's sweep ends those A was timing).
      const { body } = await api<{ items: CommandWithHistory[] }>(nginx, token, 'GET', '/devices/silent-1/commands?limit=500');
      expect(body.items.length).toBeGreaterThan(10);
      await until(
        async () => {
          const { body: now } = await api<{ items: CommandWithHistory[] }>(
            nginx,
            token,
            'GET',
            '/devices/silent-1/commands?limit=500',
          );
          return now.items.every((command) => TERMINAL.has(command.status));
        },
        'every command terminal',
        15_000,
      );
      const { body: final } = await api<{ items: CommandWithHistory[] }>(nginx, token, 'GET', '/devices/silent-1/commands?limit=500');
      for (const command of final.items) {
        expect(command.transitions.filter((t) => TERMINAL.has(t.status)).map((t) => t.status)).toEqual(['timed-out']);
      }
    },
    180_000,
  );
});
