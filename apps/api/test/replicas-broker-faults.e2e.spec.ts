import type { MqttClient } from 'mqtt';
import {
  CountingPublisher,
  type ReceivedEvent,
  StreamRecorder,
  connectDevice,
  createDevice,
  historyOf,
  readyz,
  sequence,
  until,
} from './harness';
import { type ReplicaTopology, startReplicaTopology, topologyMissing } from './replicas';

const skipReason = topologyMissing();
if (skipReason) console.warn(`skipping the replica broker fault tests: ${skipReason}`);
const describeWithTopology = skipReason ? describe.skip : describe;

const DEVICES = 5;

/**
 * `values` without a repeat of the value just before. QoS 1 is at least once from the device to the broker: a device
 * that did not read the broker's PUBACK before the restart sends the message again, which the broker forwards as a
 * new one, so a copy of the message in flight at the restart may follow it. Telling those apart needs a message id
 * from the device.
 */
const once = (values: readonly unknown[]) => values.filter((value, i) => i === 0 || value !== values[i - 1]);

/** Seqs of event ids. */
const seqs = (events: ReceivedEvent[]) => events.map((e) => Number(e.id.split('-')[1]));

describeWithTopology('Mosquitto restarted under two api replicas (shared subscriptions, persistence on)', () => {
  let topology: ReplicaTopology;
  const devices: MqttClient[] = [];
  const publishers: CountingPublisher[] = [];
  let stream: StreamRecorder | undefined;

  beforeAll(async () => {
    topology = await startReplicaTopology();
  }, 120_000);

  afterAll(async () => {
    for (const publisher of publishers) publisher.halt();
    stream?.close();
    await Promise.all(devices.map((device) => device.endAsync(true)));
    await topology?.stop();
  });

  it('stores every QoS 1 value devices published across a SIGTERM restart once, and streams it through nginx', async () => {
    const { broker, nginx, a, b, token } = topology;
    const ids = Array.from({ length: DEVICES }, (_, i) => `bf-${i}`);
    for (const id of ids) {
      const { credentials } = await createDevice(topology.as(nginx), id);
      // Persistent sessions, and the device SDK's default reconnect period (drawn between 2 and 4 s): the devices
      // come back after the replicas, which retry every 250 ms.
      const reconnectPeriod = 2_000 + Math.floor(Math.random() * 2_000);
      devices.push(await connectDevice(topology.as(nginx), credentials, { clean: false, reconnectPeriod }));
    }
    const recorder = (stream = new StreamRecorder(nginx, token, '?events=telemetry'));
    await recorder.opened();
    publishers.push(
      ...devices.map((device, i) => new CountingPublisher(device, `devices/${ids[i]}/telemetry`, 10, true)),
    );
    const total = () => publishers.reduce((sum, publisher) => sum + publisher.published, 0);
    const bothReady = async (status: number) =>
      (await readyz(a)).status === status && (await readyz(b)).status === status;
    try {
      await recorder.waitFor((events) => events.length >= 200, 15_000);
      await broker.down('SIGTERM');
      await until(() => bothReady(503), 'both replicas to see the broker gone');
      const atDown = publishers.map((publisher) => publisher.published);
      await until(
        () => publishers.every((publisher, i) => publisher.published >= atDown[i] + 20),
        'the devices to publish during the outage',
      );
      await broker.up();
      // The broker restored both replicas' sessions without their shared subscriptions; they subscribe again.
      await until(() => bothReady(200), 'both replicas to subscribe again');
      await until(() => devices.every((device) => device.connected), 'the devices to reconnect', 15_000);
      const atUp = total();
      await recorder.waitFor((events) => events.length >= atUp + 200, 15_000);
    } finally {
      for (const publisher of publishers) publisher.halt();
    }
    await Promise.all(publishers.map((publisher) => publisher.stop()));

    const valuesOf = (id: string) =>
      recorder
        .of('telemetry')
        .filter((e) => e.data['deviceId'] === id)
        .map((e) => (e.data['values'] as { n: number }).n);
    const missing = () =>
      ids.flatMap((id, i) => {
        const got = new Set(valuesOf(id));
        return sequence(publishers[i].published)
          .filter((n) => !got.has(n))
          .map((n) => `${id}:${n}`);
      });
    await recorder
      .waitFor(() => missing().length === 0, 15_000)
      .catch((error: Error) => {
        throw new Error(`${error.message.slice(0, 100)}; missing ${missing().slice(0, 40).join(' ')}`);
      });
    recorder.close();

    // The stream carries the one log in seq order, each event once, whichever replica stored it and served it.
    const events = recorder.of('telemetry');
    expect(seqs(events)).toEqual([...new Set(seqs(events))].sort((x, y) => x - y));
    for (const [i, id] of ids.entries()) {
      const published = publishers[i].published;
      // Two replicas take a device's messages in turn, so the stream may carry two of them in the other order (see
      // docs/architecture.md "Replicas"); each is there, and only the copy of one in flight at the restart repeats.
      const streamed = valuesOf(id);
      expect([...new Set(streamed)].sort((x, y) => x - y)).toEqual(sequence(published));
      expect(streamed.length - published).toBeLessThanOrEqual(1);
      // History is in the device's order (its timestamps), each value once.
      expect(once(await historyOf(topology.as(nginx), id, 'n'))).toEqual(sequence(published));
    }
  }, 120_000);
});
