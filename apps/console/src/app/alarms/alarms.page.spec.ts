import { HttpTestingController } from '@angular/common/http/testing';
import { signal } from '@angular/core';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import type { Role } from '@iot/protocol';
import { Subject } from 'rxjs';
import { adminProviders, buttonByText, dialogElement, settle as settleApp } from '../admin/testing';
import { ALARM_RULES_URL, ALARMS_URL, alarmUrl } from '../core/alarms/alarms-api';
import { AuthService } from '../core/auth/auth.service';
import { StreamService, type StreamMessage } from '../core/stream/stream.service';
import { alarmMessage, anAlarm, aUser } from '../core/testing/factories';
import { strictMock } from '../core/testing/strict-mock';
import { AlarmsPage } from './alarms.page';

describe('AlarmsPage', () => {
  let fixture: ComponentFixture<AlarmsPage>;
  let http: HttpTestingController;
  let page: HTMLElement;
  let messages: Subject<StreamMessage>;

  const rows = () =>
    [...page.querySelectorAll<HTMLElement>('tr[data-alarm]')].map((tr) =>
      [tr.dataset['alarm'], tr.querySelector('.status')?.childNodes[0].textContent?.trim()].join(':'),
    );
  const row = (id: string) => page.querySelector<HTMLElement>(`tr[data-alarm="${id}"]`) as HTMLElement;
  async function settle(): Promise<void> {
    await settleApp();
    await fixture.whenStable();
  }

  async function render(role: Role): Promise<void> {
    messages = new Subject();
    TestBed.configureTestingModule({
      imports: [AlarmsPage],
      providers: [
        ...adminProviders(),
        { provide: AuthService, useValue: strictMock<AuthService>({ user: signal(aUser({ role })) }, 'Auth') },
        {
          provide: StreamService,
          useValue: strictMock<StreamService>({ messages, state: signal('live') }, 'StreamService'),
        },
      ],
    });
    http = TestBed.inject(HttpTestingController);
    fixture = TestBed.createComponent(AlarmsPage);
    page = fixture.nativeElement as HTMLElement;
    await settle();
    http.expectOne(ALARM_RULES_URL).flush({ items: [] });
    http
      .expectOne((r) => r.url === ALARMS_URL && r.params.get('active') === 'true')
      .flush({ items: [anAlarm({ id: 'a1', severity: 'minor' })], nextCursor: null });
    await settle();
  }

  afterEach(() => http.verify());

  it('shows a new alarm live, worst first, and follows its transitions', async () => {
    await render('operator');
    expect(rows()).toEqual(['a1:raised']);

    messages.next(alarmMessage('a2', 'raised', { severity: 'critical', deviceId: 'meter-1' }));
    await settle();
    expect(rows()).toEqual(['a2:raised', 'a1:raised']);
    expect(row('a2').querySelector('a')?.getAttribute('href')).toBe('/devices/meter-1');

    messages.next(alarmMessage('a2', 'cleared'));
    await settle();
    expect(rows()).toEqual(['a1:raised', 'a2:cleared']);
    expect(row('a2').querySelector('button')?.textContent?.trim()).toBe('Details');
  });

  it('acknowledges with a note, and shows the api’s 409 as a message', async () => {
    await render('operator');
    buttonByText(row('a1'), 'Acknowledge').click();
    await settle();
    const note = dialogElement().querySelector('textarea') as HTMLTextAreaElement;
    note.value = 'on it';
    note.dispatchEvent(new Event('input'));
    buttonByText(dialogElement(), 'Acknowledge').click();
    const request = http.expectOne(`${alarmUrl('a1')}/acknowledge`);
    expect(request.request.body).toEqual({ note: 'on it' });
    request.flush({ statusCode: 409, message: 'The alarm is not raised' }, { status: 409, statusText: 'Conflict' });
    await settle();

    expect(dialogElement().querySelector('[role="alert"]')?.textContent).toContain(
      'Could not acknowledge it: The alarm is not raised',
    );

    buttonByText(dialogElement(), 'Acknowledge').click();
    http
      .expectOne(`${alarmUrl('a1')}/acknowledge`)
      .flush(anAlarm({ id: 'a1', severity: 'minor', status: 'acknowledged', acknowledgedBy: 'ada' }));
    await settle();
    expect(document.querySelector('mat-dialog-container')).toBeNull();
    expect(rows()).toEqual(['a1:acknowledged']);
    expect(page.querySelector('.notice')?.textContent).toContain('Acknowledged too hot on boiler-1');
  });

  it('shows a viewer the alarms without acknowledge or clear', async () => {
    await render('viewer');
    const buttons = [...row('a1').querySelectorAll('button')].map((b) => b.textContent?.trim());
    expect(buttons).toEqual(['Details']);
  });

  it('opens the transitions of an alarm below its row', async () => {
    await render('viewer');
    buttonByText(row('a1'), 'Details').click();
    await settle();
    http.expectOne(alarmUrl('a1')).flush({
      ...anAlarm({ id: 'a1' }),
      transitions: [
        { status: 'raised', ts: 1_000, by: null, note: null, message: 'temperature 25 above 24 for 10 s' },
        { status: 'acknowledged', ts: 2_000, by: 'ada', note: 'on it', message: 'acknowledged' },
      ],
    });
    await settle();

    const items = [...page.querySelectorAll('.transitions li')].map((li) =>
      [...li.children].map((part) => part.textContent?.trim()).join(' '),
    );
    expect(items).toHaveLength(2);
    expect(items[0]).toMatch(/^raised .* by its rule temperature 25 above 24 for 10 s$/);
    expect(items[1]).toMatch(/^acknowledged .* by ada acknowledged on it$/);
  });

  it('asks the api again when a filter changes', async () => {
    await render('viewer');
    const severity = page.querySelector<HTMLSelectElement>('#alarms-filter-severity') as HTMLSelectElement;
    severity.value = 'critical';
    severity.dispatchEvent(new Event('change'));
    const request = http.expectOne((r) => r.url === ALARMS_URL);
    expect(request.request.params.get('severity')).toBe('critical');
    expect(request.request.params.get('active')).toBe('true');
    request.flush({ items: [], nextCursor: null });
    await settle();
    expect(page.textContent).toContain('No alarms match.');
  });
});
