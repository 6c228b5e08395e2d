import { TestBed } from '@angular/core/testing';
import type { AlarmListResponse } from '@iot/protocol';
import { Subject } from 'rxjs';
import { type AlarmFilter, AlarmsApi } from '../core/alarms/alarms-api';
import { StreamService, type StreamMessage } from '../core/stream/stream.service';
import { alarmMessage, anAlarm, resetMessage } from '../core/testing/factories';
import { fakeStream } from '../core/testing/fake-stream';
import { strictMock } from '../core/testing/strict-mock';
import { AlarmsStore } from './alarms.store';

describe('AlarmsStore', () => {
  let sut: AlarmsStore;
  let messages: Subject<StreamMessage>;
  let loads: Array<{ filter: AlarmFilter; cursor: string | null | undefined; answer: Subject<AlarmListResponse> }>;

  function answer(items: AlarmListResponse['items'], nextCursor: string | null = null): void {
    const load = loads[loads.length - 1];
    load.answer.next({ items, nextCursor });
    load.answer.complete();
  }

  const ids = () => sut.alarms().map((a) => `${a.id}:${a.status}`);

  beforeEach(() => {
    messages = new Subject();
    loads = [];
    const api = strictMock<AlarmsApi>(
      {
        list: (filter: AlarmFilter = {}, cursor?: string | null) => {
          const load = { filter, cursor, answer: new Subject<AlarmListResponse>() };
          loads.push(load);
          return load.answer;
        },
      },
      'AlarmsApi',
    );
    TestBed.configureTestingModule({
      providers: [
        AlarmsStore,
        { provide: AlarmsApi, useValue: api },
        { provide: StreamService, useValue: fakeStream(messages) },
      ],
    });
    sut = TestBed.inject(AlarmsStore);
  });

  it('loads the open alarms first, and lists open ones first, worst first', () => {
    expect(loads[0].filter).toEqual({ active: true });
    sut.setFilter({});
    answer([
      anAlarm({ id: 'old', status: 'cleared', severity: 'critical', raisedAt: 5 }),
      anAlarm({ id: 'minor', severity: 'minor', raisedAt: 9 }),
      anAlarm({ id: 'crit', severity: 'critical', raisedAt: 1 }),
    ]);

    expect(ids()).toEqual(['crit:raised', 'minor:raised', 'old:cleared']);
  });

  it('adds a new alarm live when it matches the filter, and follows it until cleared', () => {
    answer([]);

    messages.next(alarmMessage('a1', 'raised'));
    messages.next(alarmMessage('a2', 'raised', { severity: 'warning' }));
    expect(ids()).toEqual(['a1:raised', 'a2:raised']);

    messages.next(alarmMessage('a1', 'acknowledged', { by: 'ada' }));
    messages.next(alarmMessage('a1', 'cleared'));
    // A cleared alarm stays shown, as cleared, until the next load.
    expect(ids()).toEqual(['a2:raised', 'a1:cleared']);
  });

  it('leaves out new alarms the filter does not match', () => {
    sut.setFilter({ active: true, severity: 'critical', deviceId: 'boiler-1' });
    answer([]);

    messages.next(alarmMessage('a1', 'raised', { severity: 'major' }));
    messages.next(alarmMessage('a2', 'raised', { severity: 'critical', deviceId: 'meter-1' }));
    messages.next(alarmMessage('a3', 'raised', { severity: 'critical' }));

    expect(ids()).toEqual(['a3:raised']);
    expect(loads[1].filter).toEqual({ active: true, severity: 'critical', deviceId: 'boiler-1' });
  });

  it('applies the events of a load on top of its answer, and reloads on a reset', () => {
    messages.next(alarmMessage('a1', 'acknowledged', { by: 'ada' }));
    answer([anAlarm({ id: 'a1' })]);
    expect(ids()).toEqual(['a1:acknowledged']);

    messages.next(resetMessage());
    expect(loads).toHaveLength(2);
  });

  it('pages on with the cursor, keeping what is shown', () => {
    answer([anAlarm({ id: 'a1' })], '42');
    expect(sut.hasMore()).toBe(true);

    sut.more();
    expect(loads[1].cursor).toBe('42');
    answer([anAlarm({ id: 'a2' })]);

    expect(ids()).toEqual(['a1:raised', 'a2:raised']);
    expect(sut.hasMore()).toBe(false);
  });
});
