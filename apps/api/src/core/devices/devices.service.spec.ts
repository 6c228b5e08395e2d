import type { DeviceRecord, DeviceRepository } from '../../domain/devices';
import type { TelemetryRepository } from '../../domain/telemetry';
import type { ClusterChannel } from '../../domain/cluster';
import { refusalOf, strictFake } from '../../domain/testing';
import type { DeviceTransport } from '../device-transport';
import type { PresenceService } from '../events/presence.service';
import type { DeviceAuthService } from './device-auth.service';
import type { DeviceCredentialsSink } from './device-credentials-sink';
import { DevicesService } from './devices.service';
import type { ModelsService } from '../models/models.service';
import { DeviceAccess } from '../auth/device-access';

const NOW = Date.UTC(2026, 0, 1);

const record = (id: string): DeviceRecord => ({
  id,
  name: `name of ${id}`,
  type: null,
  labels: {},
  online: false,
  lastSeen: null,
  createdAt: NOW,
  updatedAt: NOW,
});

describe('DevicesService', () => {
  /** What the service did to the rest of the platform, in order. */
  let effects: string[];
  let created: Array<{ device: DeviceRecord; secretHash: string }>;
  let secretHashes: Map<string, string>;
  /** Whether the broker refuses credential changes. */
  let brokerRefuses: boolean;

  /** Whether replicas share the database: notices then go out (recorded as effects). */
  let shared: boolean;
  /** The labels index the service keeps; a user scoped to site=a asks it. */
  let access: DeviceAccess;
  const siteA = { scope: new Map([['site', 'a']]) };

  function make(devices: Partial<DeviceRepository>, telemetry: Partial<TelemetryRepository> = {}): DevicesService {
    const auth = strictFake<DeviceAuthService>(
      {
        hashSecret: (secret) => `hash of ${secret}`,
        forget: (id) => void effects.push(`auth.forget ${id}`),
      },
      'auth',
    );
    const transport = strictFake<DeviceTransport>(
      { disconnect: (id) => void effects.push(`transport.disconnect ${id}`) },
      'transport',
    );
    const presence = strictFake<PresenceService>(
      {
        add: (id) => void effects.push(`presence.add ${id}`),
        remove: (id) => void effects.push(`presence.remove ${id}`),
        load: (ids) => void effects.push(`presence.load ${[...ids].join(',')}`),
      },
      'presence',
    );
    const broker = strictFake<DeviceCredentialsSink>(
      {
        managed: true,
        registered: async (id, secret) => effect(`broker.registered ${id} ${secret}`),
        rotated: async (id) => effect(`broker.rotated ${id}`),
        removed: async (id) => effect(`broker.removed ${id}`),
        reconcile: async (ids) => {
          effect(`broker.reconcile ${ids.join(',')}`);
          return { created: ['dev-a'], deleted: ['gone'], repaired: [] };
        },
      },
      'broker',
    );
    return new DevicesService(
      strictFake<DeviceRepository>(devices, 'devices'),
      strictFake<TelemetryRepository>(telemetry, 'telemetry'),
      auth,
      transport,
      presence,
      broker,
      strictFake<ClusterChannel>(
        {
          shared,
          announce: async (notice) => void effects.push(`tell ${notice.kind} ${'deviceId' in notice ? notice.deviceId : ''}`),
        },
        'cluster',
      ),
      strictFake<ModelsService>({ forget: (id) => void effects.push(`models.forget ${id}`) }, 'models'),
      access,
    );
  }

  function effect(what: string): void {
    effects.push(what);
    if (brokerRefuses) throw new Error('refused');
  }

  beforeEach(() => {
    jest.useFakeTimers({ now: NOW });
    brokerRefuses = false;
    shared = false;
    effects = [];
    created = [];
    secretHashes = new Map();
    access = new DeviceAccess();
  });

  afterEach(() => jest.useRealTimers());

  describe('create', () => {
    const sut = () =>
      make({
        create: async (device, secretHash) => {
          if (device.id === 'taken') return false;
          created.push({ device, secretHash });
          return true;
        },
        delete: async (id) => {
          created = created.filter((c) => c.device.id !== id);
          return true;
        },
      });

    it('stores the device with the hash of a new secret, makes it known to presence, and answers the secret once', async () => {
      const answer = await sut().create({ id: 'dev-a', name: 'Pump', labels: { site: 'north' } });

      expect(answer.device).toEqual({
        id: 'dev-a',
        name: 'Pump',
        type: null,
        labels: { site: 'north' },
        online: false,
        lastSeen: null,
        createdAt: NOW,
      });
      expect(answer.credentials.username).toBe('dev-a');
      expect(answer.credentials.password).toMatch(/^[A-Za-z0-9_-]{27}$/);
      expect(created).toEqual([
        { device: { ...answer.device, updatedAt: NOW }, secretHash: `hash of ${answer.credentials.password}` },
      ]);
      expect(effects).toEqual([`broker.registered dev-a ${answer.credentials.password}`, 'presence.add dev-a']);
    });

    it('removes the device again and answers unavailable when the broker does not take it', async () => {
      brokerRefuses = true;
      expect(await refusalOf(() => sut().create({ id: 'dev-a', name: 'Pump' }))).toBe('unavailable');
      expect(created).toEqual([]);
      expect(effects).not.toContain('presence.add dev-a');
    });

    it('makes an id when none is given, and a different secret each time', async () => {
      const service = sut();
      const first = await service.create({ name: 'One' });
      const second = await service.create({ name: 'Two' });
      expect(first.device.id).toMatch(/^dev-[0-9a-f]{12}$/);
      expect(second.device.id).not.toBe(first.device.id);
      expect(second.credentials.password).not.toBe(first.credentials.password);
    });

    it('refuses an id that is taken with conflict, adding nothing to presence', async () => {
      expect(await refusalOf(() => sut().create({ id: 'taken', name: 'Again' }))).toBe('conflict');
      expect(effects).toEqual([]);
    });
  });

  describe('rotateCredentials', () => {
    const sut = () =>
      make({
        setSecretHash: async (id, secretHash, now) => {
          if (id !== 'dev-a') return false;
          secretHashes.set(id, `${secretHash} at ${now}`);
          return true;
        },
      });

    it('stores the hash of a new secret, forgets the cached check and drops the live session', async () => {
      const credentials = await sut().rotateCredentials('dev-a');

      expect(credentials.username).toBe('dev-a');
      expect(secretHashes.get('dev-a')).toBe(`hash of ${credentials.password} at ${NOW}`);
      expect(effects).toEqual(['auth.forget dev-a', 'transport.disconnect dev-a', 'broker.rotated dev-a']);
    });

    it('answers unavailable when the broker does not take the new secret', async () => {
      brokerRefuses = true;
      expect(await refusalOf(() => sut().rotateCredentials('dev-a'))).toBe('unavailable');
    });

    it('refuses an unknown device with not_found, dropping nothing', async () => {
      expect(await refusalOf(() => sut().rotateCredentials('ghost'))).toBe('not_found');
      expect(effects).toEqual([]);
    });
  });

  describe('remove', () => {
    const sut = () => make({ delete: async (id) => id === 'dev-a' });

    it('deletes the device, forgets its secret and presence, and disconnects it', async () => {
      await sut().remove('dev-a');
      expect(effects).toEqual([
        'auth.forget dev-a',
        'presence.remove dev-a',
        'models.forget dev-a',
        'transport.disconnect dev-a',
        'broker.removed dev-a',
      ]);
    });

    it('deletes the device even when the broker does not answer (a re-sync puts it right)', async () => {
      brokerRefuses = true;
      await sut().remove('dev-a');
      expect(effects).toContain('broker.removed dev-a');
    });

    it('refuses an unknown device with not_found, touching nothing else', async () => {
      expect(await refusalOf(() => sut().remove('ghost'))).toBe('not_found');
      expect(effects).toEqual([]);
    });
  });

  describe('syncBroker', () => {
    it('reconciles the broker with every device id and, when asked, rotates the secrets of those it lacked', async () => {
      const sut = make({
        allIds: async () => ['dev-a', 'dev-b'],
        setSecretHash: async () => true,
      });
      const result = await sut.syncBroker(true);
      expect(result.created).toEqual(['dev-a']);
      expect(result.credentials.map((c) => c.username)).toEqual(['dev-a']);
      expect(effects).toEqual([
        'broker.reconcile dev-a,dev-b',
        'auth.forget dev-a',
        'transport.disconnect dev-a',
        'broker.rotated dev-a',
      ]);
    });

    it('rotates nothing unless asked', async () => {
      const sut = make({ allIds: async () => ['dev-a'] });
      expect((await sut.syncBroker(false)).credentials).toEqual([]);
      expect(effects).toEqual(['broker.reconcile dev-a']);
    });
  });

  it('refuses get and update of an unknown device with not_found', async () => {
    const sut = make({ get: async () => undefined, update: async () => undefined });
    expect(await refusalOf(() => sut.get('ghost'))).toBe('not_found');
    expect(await refusalOf(() => sut.update('ghost', { name: 'x' }))).toBe('not_found');
  });

  it('lists a page with the latest values and the model of its devices and a cursor to the next one', async () => {
    const asked: Array<{ afterId?: string; limit: number; model?: string }> = [];
    const sut = make(
      {
        list: async ({ afterId, limit, model }) => {
          asked.push({ afterId, limit, model });
          return ['a', 'b', 'c']
            .filter((id) => afterId === undefined || id > afterId)
            .map((id) => ({ ...record(id), model: id === 'a' ? { id: 'lamp', version: 2 } : null }))
            .slice(0, limit);
        },
      },
      { latest: async (ids) => new Map(ids.map((id) => [id, { t: { value: 1, ts: NOW } }])) },
    );

    const first = await sut.list({ limit: 2 });
    expect(first.items.map((d) => [d.id, d.latest])).toEqual([
      ['a', { t: { value: 1, ts: NOW } }],
      ['b', { t: { value: 1, ts: NOW } }],
    ]);
    expect(first.items.map((d) => d.model)).toEqual([{ id: 'lamp', version: 2 }, null]);
    expect(first.nextCursor).not.toBeNull();
    const second = await sut.list({ limit: 2, cursor: first.nextCursor ?? undefined });
    expect(second.items.map((d) => d.id)).toEqual(['c']);
    expect(second.nextCursor).toBeNull();
    // A page that holds the last device exactly: no cursor to an empty page.
    expect((await sut.list({ limit: 3 })).nextCursor).toBeNull();
    await sut.list({ limit: 2, model: 'lamp' });
    expect(asked).toEqual([
      { afterId: undefined, limit: 3, model: undefined },
      { afterId: 'b', limit: 3, model: undefined },
      { afterId: undefined, limit: 4, model: undefined },
      { afterId: undefined, limit: 3, model: 'lamp' },
    ]);
  });

  it('boots by marking every device offline before loading their ids into presence', async () => {
    const sut = make({
      markAllOffline: async () => void effects.push('devices.markAllOffline'),
      allIds: async () => ['a', 'b'],
      list: async ({ afterId, limit }) => {
        expect(limit).toBe(1000);
        return afterId === undefined ? [{ ...record('a'), labels: { site: 'a' }, model: null }] : [];
      },
    });
    await sut.boot();
    expect(effects).toEqual(['devices.markAllOffline', 'presence.load a,b']);
    expect(access.sees(siteA, 'a')).toBe(true);
    expect(access.sees(siteA, 'b')).toBe(false);
  });

  it("keeps the labels index current: a device's labels on create and relabel, gone on delete", async () => {
    let labels: Record<string, string> = {};
    const sut = make({
      create: async () => true,
      update: async (id, patch) => ({ ...record(id), labels: (labels = patch.labels ?? labels) }),
      delete: async () => true,
    });
    await sut.create({ id: 'dev-a', name: 'Pump', labels: { site: 'a' } });
    expect(access.sees(siteA, 'dev-a')).toBe(true);
    await sut.update('dev-a', { labels: { site: 'b' } });
    expect(access.sees(siteA, 'dev-a')).toBe(false);
    await sut.update('dev-a', { labels: { site: 'a', floor: '2' } });
    expect(access.sees(siteA, 'dev-a')).toBe(true);
    await sut.remove('dev-a');
    expect(access.sees(siteA, 'dev-a')).toBe(false);
  });
  describe('with replicas (a shared database)', () => {
    beforeEach(() => (shared = true));

    it('tells the other replicas of a registration, a deletion and a rotation, after its own effects', async () => {
      const sut = make({
        create: async () => true,
        delete: async () => true,
        setSecretHash: async () => true,
        update: async (id, patch) => ({ ...record(id), ...patch, labels: patch.labels ?? {} }),
      });
      await sut.create({ id: 'dev-a', name: 'Pump' });
      await sut.remove('dev-a');
      await sut.rotateCredentials('dev-b');
      await sut.update('dev-c', { labels: { site: 'a' } });
      await sut.update('dev-c', { name: 'renamed' });

      expect(effects.filter((e) => e.startsWith('tell') || e.startsWith('presence'))).toEqual([
        'presence.add dev-a',
        'tell device.added dev-a',
        'presence.remove dev-a',
        'tell device.removed dev-a',
        'tell device.rotated dev-b',
        'tell device.changed dev-c',
        'tell device.changed dev-c',
      ]);
    });

    it("reads a device's labels as stored when another replica registers or relabels it", async () => {
      let stored: DeviceRecord | undefined = { ...record('dev-a'), labels: { site: 'a' } };
      const sut = make({ get: async () => stored });
      await sut.labelsChangedElsewhere('dev-a');
      expect(access.sees(siteA, 'dev-a')).toBe(true);
      stored = undefined;
      await sut.labelsChangedElsewhere('dev-a');
      expect(access.sees(siteA, 'dev-a')).toBe(false);
    });

    it("applies another replica's notices to what this one keeps: a deleted device's secret, directory entry and session go", () => {
      const sut = make({});
      sut.changedElsewhere({ kind: 'device.added', deviceId: 'dev-a' });
      sut.changedElsewhere({ kind: 'device.removed', deviceId: 'dev-a' });
      sut.changedElsewhere({ kind: 'device.rotated', deviceId: 'dev-b' });

      expect(effects).toEqual([
        'presence.add dev-a',
        'auth.forget dev-a',
        'presence.remove dev-a',
        'transport.disconnect dev-a',
        'auth.forget dev-b',
        'transport.disconnect dev-b',
      ]);
    });
  });
});
