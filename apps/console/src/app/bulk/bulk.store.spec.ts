import { TestBed } from '@angular/core/testing';
import type { BulkCommandView, CommandStatus } from '@iot/protocol';
import { Subject, throwError } from 'rxjs';
import { BulkApi } from '../core/bulk/bulk-api';
import type { StreamMessage } from '../core/stream/stream.service';
import { StreamService } from '../core/stream/stream.service';
import { resetMessage } from '../core/testing/factories';
import { strictMock } from '../core/testing/strict-mock';
import { BulkStore } from './bulk.store';

const BULK_ID = '019a0000-0000-7000-8000-000000000001';

function aBulk(items: Array<[string, string | null, CommandStatus | null, string | null]>): BulkCommandView {
  return {
    bulkId: BULK_ID,
    kind: 'command',
    name: 'reboot',
    createdBy: 'ops',
    createdAt: 1,
    target: 'labels site=a',
    items: items.map(([deviceId, commandId, status, error]) => ({ deviceId, commandId, status, version: null, error })),
    counts: {},
  };
}

function commandMessage(commandId: string, deviceId: string, status: CommandStatus, error?: string): StreamMessage {
  return {
    event: 'command',
    id: '',
    data: { commandId, deviceId, name: 'reboot', status, ts: 1, ...(error !== undefined && { error }) },
  };
}

describe('BulkStore', () => {
  let sut: BulkStore;
  let messages: Subject<StreamMessage>;
  let loads: Array<Subject<BulkCommandView>>;
  let failNext: boolean;

  function loaded(view: BulkCommandView): void {
    const load = loads[loads.length - 1];
    load.next(view);
    load.complete();
  }

  beforeEach(() => {
    messages = new Subject();
    loads = [];
    failNext = false;
    const api = strictMock<BulkApi>(
      {
        get: (id: string) => {
          expect(id).toBe(BULK_ID);
          if (failNext) return throwError(() => new Error('down'));
          const load = new Subject<BulkCommandView>();
          loads.push(load);
          return load;
        },
      },
      'BulkApi',
    );
    TestBed.configureTestingModule({
      providers: [
        BulkStore,
        { provide: BulkApi, useValue: api },
        { provide: StreamService, useValue: strictMock<StreamService>({ messages }, 'StreamService') },
      ],
    });
    sut = TestBed.inject(BulkStore);
  });

  afterEach(() => TestBed.resetTestingModule());

  it('counts succeeded, failed (refusals too) and pending, and follows each command live to its outcome', () => {
    sut.open(BULK_ID);
    expect(sut.loading()).toBe(true);
    loaded(
      aBulk([
        ['d1', 'c1', 'sent', null],
        ['d2', 'c2', 'pending', null],
        ['d3', null, null, 'no device d3'],
      ]),
    );
    expect(sut.progress()).toEqual({ total: 3, succeeded: 0, failed: 1, pending: 2 });
    expect(sut.done()).toBe(false);

    messages.next(commandMessage('c1', 'd1', 'succeeded'));
    messages.next(commandMessage('c2', 'd2', 'failed', 'disk full'));
    // Not one of this bulk's commands, and an older status of one: both change nothing.
    messages.next(commandMessage('other', 'd9', 'succeeded'));
    messages.next(commandMessage('c1', 'd1', 'accepted'));

    expect(sut.rows().map((r) => [r.deviceId, r.status, r.detail])).toEqual([
      ['d1', 'succeeded', null],
      ['d2', 'failed', 'disk full'],
      ['d3', null, 'no device d3'],
    ]);
    expect(sut.progress()).toEqual({ total: 3, succeeded: 1, failed: 2, pending: 0 });
    expect(sut.done()).toBe(true);
  });

  it('holds events that arrive while it loads and applies them on an older answer', () => {
    sut.open(BULK_ID);
    messages.next(commandMessage('c1', 'd1', 'succeeded'));
    messages.next(commandMessage('c1', 'd1', 'sent'));
    loaded(aBulk([['d1', 'c1', 'pending', null]]));
    expect(sut.rows()[0].status).toBe('succeeded');
  });

  it('loads again on a reset, keeping a status the stream already moved further', () => {
    sut.open(BULK_ID);
    loaded(aBulk([['d1', 'c1', 'pending', null]]));
    messages.next(commandMessage('c1', 'd1', 'in-progress'));
    messages.next(resetMessage());
    expect(loads).toHaveLength(2);
    loaded(aBulk([['d1', 'c1', 'sent', null]]));
    expect(sut.rows()[0].status).toBe('in-progress');
  });

  it('says why a load failed', () => {
    failNext = true;
    sut.open(BULK_ID);
    expect(sut.loading()).toBe(false);
    expect(sut.error()).not.toBeNull();
    expect(sut.view()).toBeNull();
  });
});
