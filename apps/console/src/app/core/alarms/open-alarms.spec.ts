import { TestBed } from '@angular/core/testing';
import type { AlarmListResponse } from '@iot/protocol';
import { Subject } from 'rxjs';
import { StreamService, type StreamMessage } from '../stream/stream.service';
import { alarmMessage, anAlarm, resetMessage } from '../testing/factories';
import { fakeStream } from '../testing/fake-stream';
import { strictMock } from '../testing/strict-mock';
import { type AlarmFilter, AlarmsApi } from './alarms-api';
import { MAX_OPEN_ALARM_PAGES, OpenAlarms } from './open-alarms';

describe('OpenAlarms', () => {
  let sut: OpenAlarms;
  let messages: Subject<StreamMessage>;
  let loads: Array<{ filter: AlarmFilter; cursor: string | null | undefined; answer: Subject<AlarmListResponse> }>;

  function answer(items: AlarmListResponse['items'], nextCursor: string | null = null, index = loads.length - 1): void {
    loads[index].answer.next({ items, nextCursor });
    loads[index].answer.complete();
  }

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
        { provide: AlarmsApi, useValue: api },
        { provide: StreamService, useValue: fakeStream(messages) },
      ],
    });
    sut = TestBed.inject(OpenAlarms);
  });

  it('loads the open alarms once started, and counts them', () => {
    expect(loads).toHaveLength(0);
    sut.start();
    expect(loads[0].filter).toEqual({ active: true });

    answer([anAlarm({ id: 'a1' }), anAlarm({ id: 'a2', deviceId: 'meter-1', status: 'acknowledged' })]);

    expect(sut.count()).toBe(2);
    expect(sut.forDevice('meter-1').map((a) => a.id)).toEqual(['a2']);
  });

  it('follows alarm events live: a raise counts, an acknowledgement keeps it, a clear drops it', () => {
    sut.start();
    answer([]);

    messages.next(alarmMessage('a1', 'raised'));
    expect(sut.count()).toBe(1);
    expect(sut.alarms()[0]).toMatchObject({ id: 'a1', status: 'raised', deviceId: 'boiler-1', raisedAt: 2_000 });

    messages.next(alarmMessage('a1', 'acknowledged', { by: 'ada', ts: 3_000 }));
    expect(sut.count()).toBe(1);
    expect(sut.alarms()[0]).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'ada', acknowledgedAt: 3_000 });

    messages.next(alarmMessage('a1', 'cleared', { ts: 4_000 }));
    expect(sut.count()).toBe(0);
  });

  it('applies events that came while loading on top of the list, once each', () => {
    sut.start();
    messages.next(alarmMessage('a1', 'raised'));
    messages.next(alarmMessage('a2', 'raised'));
    messages.next(alarmMessage('a2', 'cleared'));
    expect(sut.count()).toBe(0);

    // The list already has a1: its held raise must not count it twice.
    answer([anAlarm({ id: 'a1' }), anAlarm({ id: 'a3', severity: 'critical' })]);

    expect(sut.alarms().map((a) => a.id)).toEqual(['a3', 'a1']);
  });

  it('loads again on a reset, and ignores the stream while stopped', () => {
    sut.start();
    answer([anAlarm({ id: 'a1' })]);

    messages.next(resetMessage());
    expect(loads).toHaveLength(2);
    answer([]);
    expect(sut.count()).toBe(0);

    sut.stop();
    messages.next(alarmMessage('a9', 'raised'));
    messages.next(resetMessage());
    expect(sut.count()).toBe(0);
    expect(loads).toHaveLength(2);
  });

  it('follows the cursor page by page, and says when it stopped short', () => {
    sut.start();
    for (let page = 0; page < MAX_OPEN_ALARM_PAGES; page++) answer([anAlarm({ id: `a${page}` })], `${page + 1}`);

    expect(loads).toHaveLength(MAX_OPEN_ALARM_PAGES);
    expect(loads[1].cursor).toBe('1');
    expect(sut.count()).toBe(MAX_OPEN_ALARM_PAGES);
    expect(sut.truncated()).toBe(true);
  });

  it('shows an action’s answer at once', () => {
    sut.start();
    answer([anAlarm({ id: 'a1' })]);

    sut.put(anAlarm({ id: 'a1', status: 'cleared' }));

    expect(sut.count()).toBe(0);
  });
});
