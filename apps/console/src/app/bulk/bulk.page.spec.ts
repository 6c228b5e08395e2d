import { HttpTestingController } from '@angular/common/http/testing';
import { signal } from '@angular/core';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import type { BulkCommandView } from '@iot/protocol';
import { Subject } from 'rxjs';
import { adminProviders, settle } from '../admin/testing';
import { StreamService, type StreamMessage } from '../core/stream/stream.service';
import { strictMock } from '../core/testing/strict-mock';
import { BulkPage } from './bulk.page';

const BULK_ID = '019a0000-0000-7000-8000-000000000001';

describe('BulkPage', () => {
  let fixture: ComponentFixture<BulkPage>;
  let http: HttpTestingController;
  let messages: Subject<StreamMessage>;
  const live = signal(true);
  let page: HTMLElement;

  const count = (label: string) =>
    [...page.querySelectorAll('.count')]
      .find((c) => c.querySelector('dt')?.textContent?.trim() === label)
      ?.querySelector('dd')?.textContent;
  const row = (deviceId: string) => page.querySelector(`tr[data-device="${deviceId}"]`)?.textContent ?? '';

  beforeEach(async () => {
    messages = new Subject();
    live.set(true);
    TestBed.configureTestingModule({
      imports: [BulkPage],
      providers: [
        ...adminProviders(),
        {
          provide: StreamService,
          useValue: strictMock<StreamService>({ messages, live }, 'StreamService'),
        },
      ],
    });
    http = TestBed.inject(HttpTestingController);
    fixture = TestBed.createComponent(BulkPage);
    fixture.componentRef.setInput('id', BULK_ID);
    page = fixture.nativeElement as HTMLElement;
    await fixture.whenStable();
  });

  afterEach(() => http.verify());

  it("shows the counts and each device's outcome, and follows the commands live", async () => {
    const view: BulkCommandView = {
      bulkId: BULK_ID,
      kind: 'command',
      name: 'reboot',
      createdBy: 'ops',
      createdAt: 1,
      target: 'labels site=a',
      items: [
        { deviceId: 'd1', commandId: 'c1', status: 'sent', version: null, error: null },
        { deviceId: 'd2', commandId: null, status: null, version: null, error: 'no device d2' },
      ],
      counts: {},
    };
    http.expectOne(`/api/v1/commands/bulk/${BULK_ID}`).flush(view);
    await fixture.whenStable();
    await settle();
    expect(page.querySelector('h1')?.textContent).toContain('Bulk command: reboot');
    expect(page.textContent).toContain('To every device labelled site=a');
    expect([count('Succeeded'), count('Failed'), count('Pending')]).toEqual(['0', '1', '1']);
    expect(row('d2')).toContain('refused');
    expect(row('d2')).toContain('no device d2');
    expect(page.querySelector('.stale-note')).toBeNull();
    live.set(false);
    await fixture.whenStable();
    expect(page.querySelector('.stale-note')?.textContent).toContain('may be out of date');
    live.set(true);

    messages.next({
      event: 'command',
      id: '1',
      data: { commandId: 'c1', deviceId: 'd1', name: 'reboot', status: 'succeeded', ts: 2 },
    });
    await fixture.whenStable();
    expect(row('d1')).toContain('succeeded');
    expect([count('Succeeded'), count('Failed'), count('Pending')]).toEqual(['1', '1', '0']);
  });
});
