import { TestBed } from '@angular/core/testing';
import type { DeviceListItem } from '@iot/protocol';
import { Subject } from 'rxjs';
import { type DeviceFilter, DevicesApi } from '../core/devices/devices-api';
import { DeviceModels } from '../core/models/device-models';
import type { StreamMessage } from '../core/stream/stream.service';
import { StreamService } from '../core/stream/stream.service';
import { aDevice, resetMessage, statusMessage, telemetryMessage } from '../core/testing/factories';
import { strictMock } from '../core/testing/strict-mock';
import { FleetStore, FLUSH_MS, UNKNOWN_DEVICE_REFETCH_MS } from './fleet.store';

describe('FleetStore', () => {
  let sut: FleetStore;
  let messages: Subject<StreamMessage>;
  /** One subject per listAll() call, so each spec decides when (and whether) a load ends. */
  let loads: Array<Subject<DeviceListItem[]>>;
  /** The filter each listAll() call was given. */
  let filters: DeviceFilter[];
  /** What the store told the model cache each device has. */
  let assigned: Array<[string, unknown]>;

  function listed(items: DeviceListItem[], load = loads[loads.length - 1]): void {
    load.next(items);
    load.complete();
  }

  function send(...events: StreamMessage[]): void {
    for (const event of events) messages.next(event);
  }

  /** Live changes are published in batches. */
  function flush(): void {
    jest.advanceTimersByTime(FLUSH_MS);
  }

  beforeEach(() => {
    jest.useFakeTimers();
    jest.setSystemTime(10_000);
    messages = new Subject();
    loads = [];
    filters = [];
    assigned = [];
    const api = strictMock<DevicesApi>(
      {
        listAll: (filter: DeviceFilter = {}) => {
          filters.push(filter);
          const load = new Subject<DeviceListItem[]>();
          loads.push(load);
          return load;
        },
      },
      'DevicesApi',
    );
    TestBed.configureTestingModule({
      providers: [
        FleetStore,
        { provide: DevicesApi, useValue: api },
        { provide: StreamService, useValue: strictMock<StreamService>({ messages }, 'StreamService') },
        {
          provide: DeviceModels,
          useValue: strictMock<DeviceModels>(
            { assign: (id: string, ref: unknown) => void assigned.push([id, ref]) },
            'DeviceModels',
          ),
        },
      ],
    });
    sut = TestBed.inject(FleetStore);
  });

  afterEach(() => {
    TestBed.resetTestingModule();
    jest.useRealTimers();
  });

  describe('selection and models', () => {
    it('picks devices one by one or every one shown, and forgets those a load no longer has', () => {
      listed([aDevice({ id: 'a', name: 'A' }), aDevice({ id: 'b', name: 'B' }), aDevice({ id: 'c', name: 'C' })]);
      sut.toggle('b');
      expect(sut.selectedEntries().map((e) => e.id)).toEqual(['b']);
      expect(sut.allShownSelected()).toBe(false);

      // With a search, "all" is every device shown, and unpicking all shown keeps the others.
      sut.query.set('a');
      sut.toggleAllShown();
      expect([...sut.selected()].sort()).toEqual(['a', 'b']);
      expect(sut.allShownSelected()).toBe(true);
      sut.toggleAllShown();
      expect([...sut.selected()]).toEqual(['b']);
      sut.query.set('');
      sut.toggleAllShown();
      expect(sut.selectedEntries().map((e) => e.id)).toEqual(['a', 'b', 'c']);
      sut.toggle('c', false);
      expect(sut.selectedEntries().map((e) => e.id)).toEqual(['a', 'b']);

      sut.reload();
      listed([aDevice({ id: 'a', name: 'A' })]);
      expect([...sut.selected()]).toEqual(['a']);
      sut.clearSelection();
      expect(sut.selected().size).toBe(0);
    });

    it("keeps each device's model ref and hands it to the model cache, so rows need no request of their own", () => {
      listed([aDevice({ id: 'a', model: { id: 'acme.lamp', version: 2 } }), aDevice({ id: 'b' })]);
      expect(sut.entries().map((e) => [e.id, e.model])).toEqual([
        ['a', { id: 'acme.lamp', version: 2 }],
        ['b', null],
      ]);
      expect(assigned).toEqual([
        ['a', { id: 'acme.lamp', version: 2 }],
        ['b', null],
      ]);
    });
  });

  describe('filters', () => {
    it('loads the list the api filters, and keeps the labels as key=value', () => {
      listed([aDevice({ id: 'a' })]);
      expect(filters).toEqual([{}]);

      sut.setFilter({ labels: 'site=a', online: true, model: 'acme.lamp' });
      expect(filters).toEqual([{}, { labels: 'site=a', online: true, model: 'acme.lamp' }]);
      expect(sut.loading()).toBe(true);
      listed([aDevice({ id: 'b', labels: { site: 'a', floor: '2' } })]);

      expect(sut.entries().map((e) => [e.id, e.labelList])).toEqual([['b', ['site=a', 'floor=2']]]);
      // A reload keeps the filter.
      sut.reload();
      expect(filters[2]).toEqual({ labels: 'site=a', online: true, model: 'acme.lamp' });
    });

    it('refetches once for a device outside the filter, then ignores it', () => {
      sut.setFilter({ labels: 'site=a' });
      listed([aDevice({ id: 'a' })], loads[1]);
      send(statusMessage('outside', true, 20_000));
      jest.advanceTimersByTime(UNKNOWN_DEVICE_REFETCH_MS);
      expect(loads).toHaveLength(3);
      listed([aDevice({ id: 'a' })]);

      send(statusMessage('outside', false, 21_000));
      jest.advanceTimersByTime(UNKNOWN_DEVICE_REFETCH_MS);
      expect(loads).toHaveLength(3);
    });
  });

  describe('loading', () => {
    it('loads the list at once and counts online and offline devices', () => {
      expect(loads).toHaveLength(1);
      expect(sut.loading()).toBe(true);

      listed([
        aDevice({ id: 'a', online: true }),
        aDevice({ id: 'b', online: false }),
        aDevice({ id: 'c', online: true }),
      ]);

      expect(sut.loading()).toBe(false);
      expect(sut.counts()).toEqual({ total: 3, online: 2, offline: 1 });
    });

    it('orders devices by name, numbers in names read as numbers', () => {
      listed([
        aDevice({ id: 'x', name: 'Pump 10' }),
        aDevice({ id: 'y', name: 'pump 2' }),
        aDevice({ id: 'z', name: 'Boiler' }),
      ]);
      expect(sut.devices().map((d) => d.name)).toEqual(['Boiler', 'pump 2', 'Pump 10']);
    });

    it('keeps one row per device when a device shows up on two pages', () => {
      listed([aDevice({ id: 'a' }), aDevice({ id: 'a' }), aDevice({ id: 'b' })]);
      expect(sut.devices().map((d) => d.id)).toEqual(['a', 'b']);
      expect(sut.counts().total).toBe(2);
    });

    it('says why a load failed, and loads again on reload()', () => {
      loads[0].error(new Error('The device list did not end'));

      expect(sut.loading()).toBe(false);
      expect(sut.error()).toBe('The device list did not end');

      sut.reload();
      expect(sut.loading()).toBe(true);
      listed([aDevice({ id: 'a' })]);
      expect(sut.error()).toBeNull();
      expect(sut.counts().total).toBe(1);
    });
  });

  describe('search', () => {
    beforeEach(() =>
      listed([
        aDevice({ id: 'pump-01', name: 'Cellar pump' }),
        aDevice({ id: 'boiler-1', name: 'Main boiler' }),
        aDevice({ id: 'th-7', name: 'Attic thermometer' }),
      ]),
    );

    it('matches the id or the name, in any case, ignoring surrounding spaces', () => {
      sut.query.set('  PUMP ');
      expect(sut.devices().map((d) => d.id)).toEqual(['pump-01']);

      sut.query.set('th-7');
      expect(sut.devices().map((d) => d.id)).toEqual(['th-7']);

      sut.query.set('main');
      expect(sut.devices().map((d) => d.id)).toEqual(['boiler-1']);
    });

    it('shows every device for an empty query and none for a query that matches nothing', () => {
      sut.query.set('');
      expect(sut.devices()).toHaveLength(3);
      sut.query.set('nothing-like-this');
      expect(sut.devices()).toEqual([]);
    });

    it('does not change the counts, which are for the whole fleet', () => {
      sut.query.set('pump');
      expect(sut.counts().total).toBe(3);
    });
  });

  describe('live events', () => {
    beforeEach(() =>
      listed([
        aDevice({ id: 'a', online: true, lastSeen: 1_000, latest: { temperature: { ts: 1_000, value: 20 } } }),
        aDevice({ id: 'b', online: false, lastSeen: 900, latest: {} }),
      ]),
    );

    it('merges telemetry into the latest values, published in a batch', () => {
      send(telemetryMessage('a', 2_000, { temperature: 21.5, humidity: 40 }));
      expect(sut.state('a')?.latest['temperature'].value).toBe(20); // not yet published

      flush();

      expect(sut.state('a')).toEqual({
        online: true,
        lastSeen: 2_000,
        latest: { temperature: { ts: 2_000, value: 21.5 }, humidity: { ts: 2_000, value: 40 } },
      });
    });

    it('applies every event of a burst in order', () => {
      send(
        telemetryMessage('a', 2_000, { temperature: 21 }),
        telemetryMessage('a', 3_000, { temperature: 22 }),
        telemetryMessage('b', 3_000, { level: 5 }),
      );
      flush();
      expect(sut.state('a')?.latest['temperature']).toEqual({ ts: 3_000, value: 22 });
      expect(sut.state('b')?.latest['level']).toEqual({ ts: 3_000, value: 5 });
    });

    it('keeps a newer value when an older telemetry entry arrives', () => {
      send(telemetryMessage('a', 500, { temperature: 5 }));
      flush();
      expect(sut.state('a')?.latest['temperature']).toEqual({ ts: 1_000, value: 20 });
    });

    it('updates online, lastSeen and the counts on status events', () => {
      send(statusMessage('a', false, 2_000), statusMessage('b', true, 2_100));
      flush();

      expect(sut.state('a')).toMatchObject({ online: false, lastSeen: 2_000 });
      expect(sut.state('b')).toMatchObject({ online: true, lastSeen: 2_100 });
      expect(sut.counts()).toEqual({ total: 2, online: 1, offline: 1 });

      send(statusMessage('b', false, 2_200));
      flush();
      expect(sut.counts()).toEqual({ total: 2, online: 0, offline: 2 });
    });

    it('leaves the search results alone when only live state changes', () => {
      const before = sut.devices();
      send(telemetryMessage('a', 2_000, { temperature: 30 }));
      flush();
      expect(sut.devices()).toBe(before);
    });

    it('ignores events the fleet page does not show', () => {
      const before = sut.state('a');
      send(
        { event: 'state', id: '', data: { deviceId: 'a', version: 2, ts: 2_000, reported: { mode: 'eco' } } },
        { event: 'command', id: '', data: { commandId: 'c1', deviceId: 'a', name: 'reboot', status: 'sent', ts: 2_000 } },
      );
      flush();
      expect(sut.state('a')).toBe(before);
      expect(loads).toHaveLength(1);
    });
  });

  describe('events that arrive while the list loads', () => {
    it('are applied on top of the list once it is in; those older than it are skipped', () => {
      send(
        telemetryMessage('a', 5_000, { temperature: 25 }),
        statusMessage('a', false, 500), // before the list's lastSeen: stale
        statusMessage('b', true, 6_000), // after it: applies
      );

      listed([
        aDevice({ id: 'a', online: true, lastSeen: 1_000, latest: { temperature: { ts: 1_000, value: 20 } } }),
        aDevice({ id: 'b', online: false, lastSeen: 900 }),
      ]);

      expect(sut.state('a')).toEqual({
        online: true,
        lastSeen: 5_000,
        latest: { temperature: { ts: 5_000, value: 25 } },
      });
      expect(sut.state('b')).toMatchObject({ online: true, lastSeen: 6_000 });
      expect(sut.counts()).toEqual({ total: 2, online: 2, offline: 0 });
    });
  });

  describe('refetching', () => {
    beforeEach(() => listed([aDevice({ id: 'a', name: 'Alpha' })]));

    it('fetches the list again on reset, and shows the new list', () => {
      send(resetMessage());
      expect(loads).toHaveLength(2);
      expect(sut.loading()).toBe(true);

      listed([aDevice({ id: 'a', name: 'Alpha' }), aDevice({ id: 'b', name: 'Beta' })]);

      expect(sut.devices().map((d) => d.id)).toEqual(['a', 'b']);
      expect(sut.loading()).toBe(false);
    });

    it('keeps showing the current list while it refetches', () => {
      send(resetMessage());
      expect(sut.devices().map((d) => d.id)).toEqual(['a']);
    });

    it('fetches the list once, after a pause, for devices it does not know', () => {
      send(telemetryMessage('new-1', 2_000, { x: 1 }));
      jest.advanceTimersByTime(UNKNOWN_DEVICE_REFETCH_MS / 2);
      send(statusMessage('new-2', true, 2_100), telemetryMessage('new-1', 2_200, { x: 2 }));
      expect(loads).toHaveLength(1);

      jest.advanceTimersByTime(UNKNOWN_DEVICE_REFETCH_MS / 2);
      expect(loads).toHaveLength(2);

      listed([aDevice({ id: 'a' }), aDevice({ id: 'new-1' }), aDevice({ id: 'new-2' })]);
      expect(sut.counts().total).toBe(3);
      jest.advanceTimersByTime(UNKNOWN_DEVICE_REFETCH_MS * 5);
      expect(loads).toHaveLength(2);
    });

    it('does not refetch again for a device the list still lacks', () => {
      send(telemetryMessage('ghost', 2_000, { x: 1 }));
      jest.advanceTimersByTime(UNKNOWN_DEVICE_REFETCH_MS);
      listed([aDevice({ id: 'a' })]);
      expect(loads).toHaveLength(2);

      send(telemetryMessage('ghost', 3_000, { x: 2 }));
      jest.advanceTimersByTime(UNKNOWN_DEVICE_REFETCH_MS * 2);

      expect(loads).toHaveLength(2);
    });

    it('lets a reset answer devices that were waiting for a refetch', () => {
      send(telemetryMessage('new-1', 2_000, { x: 1 }));
      send(resetMessage());
      expect(loads).toHaveLength(2);

      jest.advanceTimersByTime(UNKNOWN_DEVICE_REFETCH_MS * 2);
      expect(loads).toHaveLength(2);
    });
  });
});
