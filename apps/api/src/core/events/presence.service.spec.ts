import type { ClusterChannel } from '../../domain/cluster';
import type { DeviceRecord, DeviceRepository } from '../../domain/devices';
import type { NewEvent } from '../../domain/events';
import { strictFake } from '../../domain/testing';
import { EventBus } from './event-bus';
import type { EventLog } from './event-log.service';
import { PresenceService } from './presence.service';

describe('PresenceService', () => {
  let appended: NewEvent[];
  let bus: EventBus;
  /** Devices the database has. */
  let stored: Set<string>;

  function make(shared: boolean): PresenceService {
    const log = strictFake<EventLog>({ append: (event) => appended.push(event) > 0 }, 'log');
    const devices = strictFake<DeviceRepository>(
      { get: async (id) => (stored.has(id) ? ({ id } as DeviceRecord) : undefined) },
      'devices',
    );
    return new PresenceService(log, bus, strictFake<ClusterChannel>({ shared }, 'cluster'), devices);
  }

  beforeEach(() => {
    appended = [];
    bus = new EventBus();
    stored = new Set(['dev-a', 'dev-b']);
  });

  it('alone, stores a status only when it changes and knows only the devices it loaded', async () => {
    const sut = make(false);
    sut.load(['dev-a']);
    sut.set('dev-a', true, 1);
    sut.set('dev-a', true, 2);
    sut.report('dev-a', true, 3);
    sut.set('ghost', true, 4);
    expect(appended.map((e) => [e.deviceId, e.online, e.ts])).toEqual([['dev-a', true, 1]]);
    expect(await sut.known('dev-b')).toBe(false);
  });

  it('with replicas, stores every status a device sends, follows the others from the log, and asks the database for a device it does not know', async () => {
    const sut = make(true);
    sut.load(['dev-a'], ['dev-a']);
    expect(sut.isOnline('dev-a')).toBe(true);
    sut.report('dev-a', true, 1);
    expect(appended).toHaveLength(1);
    // What the broker says (a session, a message on the embedded broker) is stored only when it changes.
    sut.set('dev-a', true, 2);
    expect(appended).toHaveLength(1);

    const status = (deviceId: string, online: boolean) => ({
      seq: 1,
      type: 'status' as const,
      deviceId,
      data: JSON.stringify({ deviceId, online, ts: 5 }),
    });
    bus.emit('committed', [status('dev-a', false)], []);
    expect(sut.isOnline('dev-a')).toBe(false);

    // Registered through another replica a moment ago.
    expect(sut.has('dev-b')).toBe(false);
    expect(await sut.known('dev-b')).toBe(true);
    expect(sut.has('dev-b')).toBe(true);
    bus.emit('committed', [status('dev-b', true)], []);
    expect(sut.isOnline('dev-b')).toBe(true);
    expect(await sut.known('ghost')).toBe(false);
  });
});
