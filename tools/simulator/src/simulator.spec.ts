import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTelemetry, topics } from '@iot/protocol';
import { startFakeApi, type FakeApi } from './testing/fake-api';
import { startRecorder, startTestBroker, type Recorder, type TestBroker } from '@iot/device-sdk/testing';
import { planFleet, runSimulator, type Simulator, type SimulatorOptions } from './simulator';
import { THERMOSTAT_MODEL } from './models';

const ADMIN = { username: 'admin', password: 'admin-password' };

describe('planFleet', () => {
  it('assigns types in turn and numbers each type from 001', () => {
    expect(planFleet(5, ['thermostat', 'meter'], 'lab')).toEqual([
      { id: 'lab-thermostat-001', type: 'thermostat', name: 'Simulated thermostat 001' },
      { id: 'lab-meter-001', type: 'meter', name: 'Simulated power meter 001' },
      { id: 'lab-thermostat-002', type: 'thermostat', name: 'Simulated thermostat 002' },
      { id: 'lab-meter-002', type: 'meter', name: 'Simulated power meter 002' },
      { id: 'lab-thermostat-003', type: 'thermostat', name: 'Simulated thermostat 003' },
    ]);
  });
});

describe('runSimulator (fake api, in-process aedes broker)', () => {
  let broker: TestBroker;
  let api: FakeApi;
  let platform: Recorder;
  let sut: Simulator | undefined;
  let lines: string[];

  function start(overrides: Partial<SimulatorOptions> = {}): Promise<Simulator> {
    return runSimulator({
      apiUrl: api.url,
      mqttUrl: broker.url,
      ...ADMIN,
      devices: 3,
      rate: 20,
      flaky: 0,
      seed: 1,
      summaryIntervalMs: 0,
      log: (line) => lines.push(line),
      ...overrides,
    });
  }

  const on = (topic: string) => (m: { topic: string }) => m.topic === topic;
  const json = (texts: { text: string }[]): unknown[] => texts.map((m) => JSON.parse(m.text));

  beforeEach(async () => {
    lines = [];
    broker = await startTestBroker();
    // The fake api hands each secret it issues to the broker, like the platform's device auth.
    api = await startFakeApi(ADMIN, (id, secret) => broker.passwords.set(id, secret));
    platform = await startRecorder(broker);
  });

  afterEach(async () => {
    await sut?.stop();
    sut = undefined;
    await platform.close();
    await api.close();
    await broker.close();
  });

  it('registers the fleet, connects it and publishes believable telemetry of every type', async () => {
    sut = await start();

    expect(sut.devices.map((d) => d.id)).toEqual(['sim-thermostat-001', 'sim-meter-001', 'sim-air-001']);
    expect([...api.devices.values()]).toEqual([
      expect.objectContaining({ id: 'sim-thermostat-001', type: 'thermostat', labels: { simulated: 'true' } }),
      expect.objectContaining({ id: 'sim-meter-001', type: 'meter', labels: { simulated: 'true' } }),
      expect.objectContaining({ id: 'sim-air-001', type: 'air', labels: { simulated: 'true' } }),
    ]);
    const expectedKeys: Record<string, string[]> = {
      'sim-thermostat-001': ['heating', 'humidity', 'setpoint', 'temperature'],
      'sim-meter-001': ['current', 'energy', 'power', 'relay', 'voltage'],
      'sim-air-001': ['co2', 'pm2_5', 'voc'],
    };
    for (const [id, keys] of Object.entries(expectedKeys)) {
      await platform.waitFor((m) => m.topic === topics.status(id) && m.text === 'online');
      const telemetry = await platform.waitFor(on(topics.telemetry(id)), 5);
      for (const message of telemetry) {
        const parsed = parseTelemetry(message.text, { now: Date.now() });
        expect(parsed).toMatchObject({ ok: true });
        expect(Object.keys(JSON.parse(message.text)).sort()).toEqual(keys);
      }
      const [reported] = json(await platform.waitFor(on(topics.stateReported(id))));
      expect(reported).toMatchObject({ firmware: 'sim-1.0.0' });
    }
    expect(sut.stats()).toMatchObject({ devices: 3, connected: 3, errors: 0 });
    expect(sut.stats().messagesSent).toBeGreaterThanOrEqual(15);
  });

  it('runs setpoint.set on a thermostat and reports the new setpoint', async () => {
    sut = await start({ devices: 1, types: ['thermostat'] });
    const id = 'sim-thermostat-001';
    await platform.waitFor((m) => m.topic === topics.status(id) && m.text === 'online');

    await platform.client.publishAsync(
      topics.command(id, 'cmd-1'),
      JSON.stringify({
        name: 'setpoint.set',
        params: { value: 25.5 },
        issuedAt: Date.now(),
        expiresAt: Date.now() + 60_000,
      }),
      { qos: 1 },
    );

    expect(json(await platform.waitFor(on(topics.commandResult(id, 'cmd-1')), 2))).toEqual([
      { status: 'accepted' },
      { status: 'succeeded', result: { setpoint: 25.5 } },
    ]);
    await platform.waitFor((m) => m.topic === topics.stateReported(id) && JSON.parse(m.text).setpoint === 25.5);
    await platform.waitFor((m) => m.topic === topics.telemetry(id) && JSON.parse(m.text).setpoint === 25.5);
    expect(sut.stats().commandsRun).toBe(1);
  });

  it('answers failed for a setpoint out of range, and announces its model at connect', async () => {
    sut = await start({ devices: 1, types: ['thermostat'] });
    const id = 'sim-thermostat-001';
    await platform.waitFor((m) => m.topic === topics.status(id) && m.text === 'online');
    expect(json(platform.messages.filter(on(topics.model(id))))).toEqual([THERMOSTAT_MODEL.model]);

    await platform.client.publishAsync(
      topics.command(id, 'cmd-2'),
      JSON.stringify({
        name: 'setpoint.set',
        params: { value: 99 },
        issuedAt: Date.now(),
        expiresAt: Date.now() + 60_000,
      }),
      { qos: 1 },
    );

    // Checked against the device's model before the handler runs.
    const [failed] = json(await platform.waitFor(on(topics.commandResult(id, 'cmd-2'))));
    expect(failed).toEqual({ status: 'failed', error: 'invalid command: params.value: Too big: expected number to be <=30' });
  });

  it('opens a meter relay from the desired state: power falls to about zero and the relay is reported', async () => {
    const id = 'sim-meter-001';
    await platform.client.publishAsync(
      topics.stateDesired(id),
      JSON.stringify({ version: 2, state: { relay: false } }),
      {
        qos: 1,
        retain: true,
      },
    );

    sut = await start({ devices: 1, types: ['meter'] });

    await platform.waitFor((m) => m.topic === topics.stateReported(id) && JSON.parse(m.text).relay === false);
    const off = await platform.waitFor(
      (m) => m.topic === topics.telemetry(id) && JSON.parse(m.text).relay === false,
      3,
    );
    expect(off.map((m) => JSON.parse(m.text).power as number).every((p) => p < 1)).toBe(true);
  });

  it('gives devices that exist a fresh secret, and they connect with it', async () => {
    sut = await start({ devices: 1, types: ['air'] });
    await platform.waitFor((m) => m.topic === topics.status('sim-air-001') && m.text === 'online');
    await sut.stop();
    const firstSecret = broker.passwords.get('sim-air-001');

    sut = await start({ devices: 1, types: ['air'] });

    expect(broker.passwords.get('sim-air-001')).not.toBe(firstSecret);
    expect(api.requests.filter((r) => r.path === '/devices/sim-air-001/credentials')).toHaveLength(1);
    await platform.waitFor((m) => m.topic === topics.status('sim-air-001') && m.text === 'online', 2);
    expect(lines).toContain('simulator: 0 devices created, 1 existing ones got a new secret, 0 kept their stored one');
  });

  describe('with a DATA_DIR', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'sim-data-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const withData = (overrides: Partial<SimulatorOptions> = {}): Promise<Simulator> =>
      start({
        username: undefined,
        password: undefined,
        dataDir: dir,
        firstAdmin: { ...ADMIN, source: 'test' },
        ...overrides,
      });
    const rotations = (): string[] =>
      api.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/credentials')).map((r) => r.path);

    it('keeps each existing device its stored secret on restart: no rotation, and it connects again', async () => {
      sut = await withData({ devices: 2, types: ['air'] });
      for (const { id } of sut.devices)
        await platform.waitFor((m) => m.topic === topics.status(id) && m.text === 'online');
      await sut.stop();
      const secrets = JSON.parse(readFileSync(join(dir, 'simulator-devices.json'), 'utf8')) as Record<string, string>;
      expect(secrets).toEqual({
        'sim-air-001': broker.passwords.get('sim-air-001'),
        'sim-air-002': broker.passwords.get('sim-air-002'),
      });

      // A restart, without the admin's password this time: its own login and the stored secrets do.
      sut = await withData({ devices: 2, types: ['air'], firstAdmin: undefined });

      expect(rotations()).toEqual([]);
      expect(lines).toContain(
        'simulator: 0 devices created, 0 existing ones got a new secret, 2 kept their stored one',
      );
      for (const { id } of sut.devices)
        await platform.waitFor((m) => m.topic === topics.status(id) && m.text === 'online', 2);
      expect(broker.passwords.get('sim-air-001')).toBe(secrets['sim-air-001']);
    });

    it('gives a device a new secret when its stored one is missing or refused, and only that device', async () => {
      sut = await withData({ devices: 3, types: ['air'] });
      for (const { id } of sut.devices)
        await platform.waitFor((m) => m.topic === topics.status(id) && m.text === 'online');
      await sut.stop();
      const file = join(dir, 'simulator-devices.json');
      const secrets = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
      delete secrets['sim-air-002'];
      secrets['sim-air-003'] = 'a-secret-the-broker-refuses';
      writeFileSync(file, JSON.stringify(secrets));

      sut = await withData({ devices: 3, types: ['air'] });

      await platform.waitFor((m) => m.topic === topics.status('sim-air-003') && m.text === 'online', 2);
      expect(rotations()).toEqual(['/devices/sim-air-002/credentials', '/devices/sim-air-003/credentials']);
      const now = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
      expect(now['sim-air-003']).toBe(broker.passwords.get('sim-air-003'));
      expect(now['sim-air-001']).toBe(secrets['sim-air-001']);
      expect(lines).toContain('simulator: sim-air-003: the broker refused its stored secret; it got a new one');
    });
  });

  it('publishes offline for every device on stop', async () => {
    sut = await start();
    for (const { id } of sut.devices)
      await platform.waitFor((m) => m.topic === topics.status(id) && m.text === 'online');

    await sut.stop();

    for (const { id } of sut.devices)
      await platform.waitFor((m) => m.topic === topics.status(id) && m.text === 'offline');
    expect(sut.stats().connected).toBe(0);
    expect(lines[lines.length - 1]).toMatch(/^simulator: stopped 3 devices after \d+ messages$/);
  });

  it('drops offline when flaky, then sends the readings it missed as one timed batch', async () => {
    sut = await start({ devices: 1, types: ['air'], rate: 10, flaky: 1, offlineMs: [400, 400] });
    const id = 'sim-air-001';

    // The will: the broker publishes offline because the connection broke without a DISCONNECT.
    await platform.waitFor((m) => m.topic === topics.status(id) && m.text === 'offline');
    await platform.waitFor((m) => m.topic === topics.status(id) && m.text === 'online', 2);
    const [batch] = await platform.waitFor((m) => m.topic === topics.telemetry(id) && m.text.startsWith('['));
    const entries = JSON.parse(batch.text) as Array<{ ts: number; values: Record<string, unknown> }>;
    expect(entries.length).toBeGreaterThanOrEqual(2);
    expect(entries.every((e) => typeof e.ts === 'number' && typeof e.values['co2'] === 'number')).toBe(true);
    expect(parseTelemetry(batch.text, { now: Date.now() })).toMatchObject({ ok: true });
    expect(sut.stats().disconnects).toBeGreaterThanOrEqual(1);
  });

  it('rejects, naming the problem, when the login is refused', async () => {
    await expect(start({ password: 'wrong' })).rejects.toThrow('login as "admin" refused');
    expect(broker.passwords.size).toBe(1);
  });
});
