import { signal } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import type { CommandEvent, CommandListResponse, CommandWithHistoryView } from '@iot/protocol';
import { Subject } from 'rxjs';
import { AuthService } from '../core/auth/auth.service';
import { ControlSocketService } from '../core/control/control-socket.service';
import { CONTROL_SOCKET_URL, WEB_SOCKET_FACTORY } from '../core/control/web-socket';
import { DeviceApi } from '../core/devices/device-api';
import { type StreamMessage, StreamService } from '../core/stream/stream.service';
import { aUser } from '../core/testing/factories';
import { fakeStream } from '../core/testing/fake-stream';
import { type FakeWebSocket, fakeWebSockets } from '../core/testing/fake-web-socket';
import { strictMock } from '../core/testing/strict-mock';
import { CommandsStore } from './commands.store';

function aCommand(overrides: Partial<CommandWithHistoryView> = {}): CommandWithHistoryView {
  return {
    commandId: 'cmd-1',
    deviceId: 'boiler-1',
    name: 'reboot',
    params: {},
    status: 'sent',
    timeoutMs: 30_000,
    issuedAt: 1_000,
    expiresAt: 601_000,
    sentAt: 1_100,
    updatedAt: 1_100,
    createdBy: 'grace',
    transitions: [
      { status: 'pending', ts: 1_000, by: 'grace' },
      { status: 'sent', ts: 1_100 },
    ],
    ...overrides,
  };
}

function commandEvent(overrides: Partial<CommandEvent> = {}): CommandEvent {
  return { commandId: 'cmd-1', deviceId: 'boiler-1', name: 'reboot', status: 'accepted', ts: 1_200, ...overrides };
}

describe('CommandsStore', () => {
  let sut: CommandsStore;
  let messages: Subject<StreamMessage>;
  let pages: Array<Subject<CommandListResponse>>;
  let details: Map<string, Subject<CommandWithHistoryView>>;
  let sockets: ReturnType<typeof fakeWebSockets>;
  let socket: FakeWebSocket;

  function loaded(items: CommandWithHistoryView[]): void {
    const page = pages[pages.length - 1];
    page.next({ items, nextCursor: null });
    page.complete();
  }

  function sse(event: CommandEvent): void {
    messages.next({ event: 'command', id: '', data: event });
  }

  beforeEach(() => {
    messages = new Subject();
    pages = [];
    details = new Map();
    sockets = fakeWebSockets();
    const api = strictMock<DeviceApi>(
      {
        commands: () => {
          const page = new Subject<CommandListResponse>();
          pages.push(page);
          return page;
        },
        command: (commandId: string) => {
          const detail = new Subject<CommandWithHistoryView>();
          details.set(commandId, detail);
          return detail;
        },
      },
      'DeviceApi',
    );
    TestBed.configureTestingModule({
      providers: [
        CommandsStore,
        { provide: DeviceApi, useValue: api },
        { provide: StreamService, useValue: fakeStream(messages) },
        {
          provide: AuthService,
          useValue: strictMock<AuthService>({ user: signal(aUser({ username: 'ada' })) }, 'AuthService'),
        },
        { provide: WEB_SOCKET_FACTORY, useValue: sockets.factory },
        { provide: CONTROL_SOCKET_URL, useValue: 'ws://test/api/v1/ws' },
      ],
    });
    const control = TestBed.inject(ControlSocketService);
    control.enable();
    control.connect();
    socket = sockets.latest();
    socket.open();
    sut = TestBed.inject(CommandsStore);
    sut.open('boiler-1');
  });

  afterEach(() => TestBed.resetTestingModule());

  it('shows the REST history, newest first', () => {
    expect(sut.loading()).toBe(true);
    loaded([aCommand({ commandId: 'old', issuedAt: 10 }), aCommand({ commandId: 'new', issuedAt: 20 })]);
    expect(sut.loading()).toBe(false);
    expect(sut.commands().map((c) => c.commandId)).toEqual(['new', 'old']);
  });

  it('applies SSE command events from other operators, adding new commands and transitions', () => {
    loaded([aCommand()]);
    sse(commandEvent({ status: 'accepted', ts: 1_200 }));
    sse(commandEvent({ commandId: 'cmd-2', name: 'blink', status: 'pending', ts: 2_000 }));
    sse(commandEvent({ deviceId: 'other-device', commandId: 'cmd-3' }));

    expect(sut.commands().map((c) => [c.commandId, c.status])).toEqual([
      ['cmd-2', 'pending'],
      ['cmd-1', 'accepted'],
    ]);
    expect(sut.command('cmd-1')?.transitions.map((t) => t.status)).toEqual(['pending', 'sent', 'accepted']);
    expect(sut.command('cmd-2')?.createdBy).toBeNull();

    // Who sent a command first seen on the stream is fetched once.
    expect([...details.keys()]).toEqual(['cmd-2']);
    sse(commandEvent({ commandId: 'cmd-2', name: 'blink', status: 'sent', ts: 2_100 }));
    details.get('cmd-2')?.next(
      aCommand({
        commandId: 'cmd-2',
        name: 'blink',
        status: 'pending',
        createdBy: 'grace',
        params: { n: 3 },
        transitions: [{ status: 'pending', ts: 2_000, by: 'grace' }],
      }),
    );
    const blink = sut.command('cmd-2');
    expect(blink?.createdBy).toBe('grace');
    expect(blink?.params).toEqual({ n: 3 });
    expect(blink?.status).toBe('sent');
    expect(blink?.transitions.map((t) => [t.status, t.by])).toEqual([
      ['pending', 'grace'],
      ['sent', undefined],
    ]);
  });

  it('applies a transition once when it arrives on both the socket and the stream', async () => {
    loaded([]);
    const sending = sut.send('reboot', { delay: 5 }, 2_000);
    expect(socket.sent[0]).toEqual({
      event: 'command.send',
      data: {
        deviceId: 'boiler-1',
        name: 'reboot',
        params: { delay: 5 },
        timeoutMs: 2_000,
        requestId: expect.any(String),
      },
    });
    const requestId = socket.lastRequestId();
    socket.receive('command.status', { ...commandEvent({ status: 'sent', ts: 1_100 }), requestId });
    await expect(sending).resolves.toBe('cmd-1');

    sse(commandEvent({ status: 'sent', ts: 1_100 }));
    socket.receive('command.status', {
      ...commandEvent({ status: 'succeeded', ts: 1_300, result: { ok: true } }),
      requestId,
    });
    sse(commandEvent({ status: 'succeeded', ts: 1_300, result: { ok: true } }));

    expect(sut.commands()).toHaveLength(1);
    const command = sut.command('cmd-1');
    expect(command?.transitions.map((t) => t.status)).toEqual(['sent', 'succeeded']);
    expect(command?.status).toBe('succeeded');
    expect(command?.result).toEqual({ ok: true });
    expect(command?.createdBy).toBe('ada');
  });

  it('keeps a terminal status even if an older transition arrives late', () => {
    loaded([aCommand()]);
    sse(commandEvent({ status: 'failed', ts: 1_300, error: 'no power' }));
    sse(commandEvent({ status: 'in-progress', ts: 1_250 }));

    expect(sut.command('cmd-1')?.status).toBe('failed');
    expect(sut.command('cmd-1')?.error).toBe('no power');
    expect(sut.command('cmd-1')?.transitions.map((t) => t.status)).toEqual([
      'pending',
      'sent',
      'in-progress',
      'failed',
    ]);
  });

  it('merges live events that arrived while the history loaded, without repeats', () => {
    sse(commandEvent({ status: 'accepted', ts: 1_200 }));
    sse(commandEvent({ status: 'sent', ts: 1_100 }));
    loaded([aCommand()]);

    const command = sut.command('cmd-1');
    expect(command?.status).toBe('accepted');
    expect(command?.createdBy).toBe('grace');
    expect(command?.transitions).toEqual([
      { status: 'pending', ts: 1_000, by: 'grace' },
      { status: 'sent', ts: 1_100 },
      { status: 'accepted', ts: 1_200 },
    ]);
  });

  it('cancels over the socket and shows the cancelled status', async () => {
    loaded([aCommand({ status: 'pending', transitions: [{ status: 'pending', ts: 1_000 }] })]);
    const cancelling = sut.cancel('cmd-1');
    expect(socket.sent[0]).toMatchObject({ event: 'command.cancel', data: { commandId: 'cmd-1' } });
    socket.receive('command.status', {
      ...commandEvent({ status: 'cancelled', ts: 1_500 }),
      requestId: socket.lastRequestId(),
    });
    await cancelling;
    expect(sut.command('cmd-1')?.status).toBe('cancelled');
  });

  it('reloads the history on a stream reset', () => {
    loaded([]);
    expect(pages).toHaveLength(1);
    messages.next({ event: 'reset', id: '', data: { reason: 'event id too old' } });
    expect(pages).toHaveLength(2);
  });
});
