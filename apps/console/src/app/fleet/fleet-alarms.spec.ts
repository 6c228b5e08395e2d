import { TestBed } from '@angular/core/testing';
import type { DeviceListItem } from '@iot/protocol';
import { Subject } from 'rxjs';
import { DevicesApi } from '../core/devices/devices-api';
import { DeviceModels } from '../core/models/device-models';
import { StreamService, type StreamMessage } from '../core/stream/stream.service';
import { aDevice, alarmMessage } from '../core/testing/factories';
import { strictMock } from '../core/testing/strict-mock';
import { FleetStore } from './fleet.store';

describe('FleetStore open-alarm counts', () => {
  let sut: FleetStore;
  let messages: Subject<StreamMessage>;
  let loads: Array<Subject<DeviceListItem[]>>;

  function listed(items: DeviceListItem[]): void {
    const load = loads[loads.length - 1];
    load.next(items);
    load.complete();
  }

  beforeEach(() => {
    messages = new Subject();
    loads = [];
    TestBed.configureTestingModule({
      providers: [
        FleetStore,
        {
          provide: DevicesApi,
          useValue: strictMock<DevicesApi>(
            {
              listAll: () => {
                const load = new Subject<DeviceListItem[]>();
                loads.push(load);
                return load;
              },
            },
            'DevicesApi',
          ),
        },
        { provide: StreamService, useValue: strictMock<StreamService>({ messages }, 'StreamService') },
        { provide: DeviceModels, useValue: strictMock<DeviceModels>({ assign: () => undefined }, 'DeviceModels') },
      ],
    });
    sut = TestBed.inject(FleetStore);
  });

  it('starts from the list’s counts and moves them with raises and clears', () => {
    listed([aDevice({ id: 'boiler-1', alarms: 2 }), aDevice({ id: 'meter-1' })]);
    expect([sut.alarms('boiler-1'), sut.alarms('meter-1')]).toEqual([2, 0]);

    messages.next(alarmMessage('a1', 'raised', { deviceId: 'meter-1' }));
    messages.next(alarmMessage('a1', 'acknowledged', { deviceId: 'meter-1' }));
    messages.next(alarmMessage('a0', 'cleared', { deviceId: 'boiler-1' }));

    expect([sut.alarms('boiler-1'), sut.alarms('meter-1')]).toEqual([1, 1]);
  });

  it('ignores alarm events while the list loads: the count it brings has them or not', () => {
    messages.next(alarmMessage('a1', 'raised', { deviceId: 'boiler-1' }));
    listed([aDevice({ id: 'boiler-1', alarms: 1 })]);

    expect(sut.alarms('boiler-1')).toBe(1);
  });

  it('shows only the devices with open alarms when asked, live', () => {
    listed([aDevice({ id: 'boiler-1', name: 'A', alarms: 1 }), aDevice({ id: 'meter-1', name: 'B' })]);

    sut.withAlarms.set(true);
    expect(sut.devices().map((d) => d.id)).toEqual(['boiler-1']);

    messages.next(alarmMessage('a2', 'raised', { deviceId: 'meter-1' }));
    messages.next(alarmMessage('a1', 'cleared', { deviceId: 'boiler-1' }));
    expect(sut.devices().map((d) => d.id)).toEqual(['meter-1']);

    sut.withAlarms.set(false);
    expect(sut.devices()).toHaveLength(2);
  });
});
