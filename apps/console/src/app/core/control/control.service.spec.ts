import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import type { ServerFrameMap } from '@iot/protocol';
import { Subject } from 'rxjs';
import { StreamService, type StreamMessage } from '../stream/stream.service';
import { fakeStream } from '../testing/fake-stream';
import { type FakeWebSocket, fakeWebSockets } from '../testing/fake-web-socket';
import { CONTROL_OPEN_TIMEOUT_MS, CONTROL_REPLY_TIMEOUT_MS } from './control-socket.service';
import { ControlService } from './control.service';
import { CONTROL_SOCKET_URL, WEB_SOCKET_FACTORY } from './web-socket';

const SEND = { deviceId: 'boiler-1', name: 'reboot' };

describe('ControlService', () => {
  let sut: ControlService;
  let sockets: ReturnType<typeof fakeWebSockets>;
  let http: HttpTestingController;
  let messages: Subject<StreamMessage>;

  beforeEach(() => {
    jest.useFakeTimers();
    // With random() at 0.5 a retry waits 3/4 of its exponential step (1 s base): 750 ms, then 1.5 s.
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    sockets = fakeWebSockets();
    messages = new Subject();
    TestBed.configureTestingModule({
      providers: [
        provideHttpClient(),
        provideHttpClientTesting(),
        { provide: StreamService, useValue: fakeStream(messages) },
        { provide: WEB_SOCKET_FACTORY, useValue: sockets.factory },
        { provide: CONTROL_SOCKET_URL, useValue: 'ws://console.test/api/v1/ws' },
        { provide: CONTROL_OPEN_TIMEOUT_MS, useValue: 4_000 },
        { provide: CONTROL_REPLY_TIMEOUT_MS, useValue: 15_000 },
      ],
    });
    sut = TestBed.inject(ControlService);
    http = TestBed.inject(HttpTestingController);
    sut.enable();
  });

  afterEach(() => {
    http.verify();
    TestBed.resetTestingModule();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  /** Answers the POST and the GET of a command sent over HTTP. */
  async function answerOverHttp(commandId = 'cmd-1'): Promise<void> {
    http
      .expectOne({ method: 'POST', url: '/api/v1/devices/boiler-1/commands' })
      .flush({ commandId, status: 'pending' });
    await jest.advanceTimersByTimeAsync(0);
    http.expectOne(`/api/v1/commands/${commandId}`).flush({
      commandId,
      deviceId: 'boiler-1',
      name: 'reboot',
      status: 'pending',
      transitions: [{ status: 'pending', ts: 1_000 }],
    });
  }

  function statusFrame(socket: FakeWebSocket): ServerFrameMap['command.status'] {
    return {
      requestId: socket.lastRequestId(),
      commandId: 'cmd-9',
      deviceId: 'boiler-1',
      name: 'reboot',
      status: 'pending',
      ts: 2_000,
    };
  }

  it('uses the WebSocket while it is open', async () => {
    sut.connect();
    expect(sut.path()).toBe('connecting');
    const socket = sockets.latest();
    socket.open();
    expect(sut.path()).toBe('socket');

    const reply = sut.send('command.send', SEND);
    await jest.advanceTimersByTimeAsync(0);
    expect(socket.sent[0]).toMatchObject({ event: 'command.send', data: SEND });
    socket.receive('command.status', statusFrame(socket));
    await expect(reply).resolves.toMatchObject({ commandId: 'cmd-9' });
  });

  it('goes over HTTP at once when the upgrade is refused, and a request made meanwhile follows', async () => {
    sut.connect();
    const reply = sut.send('command.send', SEND);
    sockets.latest().drop(1006); // what a browser reports for a refused upgrade

    expect(sut.path()).toBe('http');
    await jest.advanceTimersByTimeAsync(0);
    await answerOverHttp();
    await expect(reply).resolves.toMatchObject({ commandId: 'cmd-1', status: 'pending', ts: 1_000 });
  });

  it('goes over HTTP when the socket has not opened within the open timeout', async () => {
    sut.connect();
    const first = sockets.latest();
    const reply = sut.send('command.send', SEND);
    await jest.advanceTimersByTimeAsync(3_999);
    expect(sut.path()).toBe('connecting');
    http.expectNone('/api/v1/devices/boiler-1/commands');

    await jest.advanceTimersByTimeAsync(1);
    expect(sut.path()).toBe('http');
    expect(first.closedByClient).toBe(true);
    await answerOverHttp();
    await expect(reply).resolves.toMatchObject({ commandId: 'cmd-1' });
  });

  it('keeps retrying the socket with backoff and returns to it once it opens', async () => {
    sut.connect();
    sockets.latest().drop();
    expect(sockets.created).toHaveLength(1);

    await jest.advanceTimersByTimeAsync(750);
    expect(sockets.created).toHaveLength(2);
    sockets.latest().drop();
    expect(sut.path()).toBe('http');
    await jest.advanceTimersByTimeAsync(1_499);
    expect(sockets.created).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(sockets.created).toHaveLength(3);
    expect(sut.path()).toBe('http'); // still retrying: requests keep going over HTTP

    const socket = sockets.latest();
    socket.open();
    expect(sut.path()).toBe('socket');
    const reply = sut.send('command.send', SEND);
    await jest.advanceTimersByTimeAsync(0);
    http.expectNone('/api/v1/devices/boiler-1/commands');
    socket.receive('command.status', statusFrame(socket));
    await expect(reply).resolves.toMatchObject({ commandId: 'cmd-9' });
  });

  it('falls back to HTTP when an open socket is lost', async () => {
    sut.connect();
    sockets.latest().open();
    sockets.latest().drop();
    expect(sut.path()).toBe('http');

    const reply = sut.send('command.cancel', { commandId: 'cmd-1' });
    await jest.advanceTimersByTimeAsync(0);
    http.expectOne({ method: 'POST', url: '/api/v1/commands/cmd-1/cancel' }).flush({
      commandId: 'cmd-1',
      deviceId: 'boiler-1',
      name: 'reboot',
      status: 'cancelled',
      updatedAt: 3_000,
    });
    await expect(reply).resolves.toMatchObject({ status: 'cancelled', ts: 3_000 });
  });

  it('publishes the stream transitions of commands sent over HTTP on commandStatus', async () => {
    const updates: Array<ServerFrameMap['command.status']> = [];
    sut.commandStatus.subscribe((update) => updates.push(update));
    sut.connect();
    sockets.latest().drop();
    const reply = sut.send('command.send', SEND);
    await jest.advanceTimersByTimeAsync(0);
    await answerOverHttp();
    await reply;

    messages.next({
      event: 'command',
      id: '7',
      data: { commandId: 'cmd-1', deviceId: 'boiler-1', name: 'reboot', status: 'succeeded', ts: 1_100 },
    });
    expect(updates).toEqual([
      { commandId: 'cmd-1', deviceId: 'boiler-1', name: 'reboot', status: 'succeeded', ts: 1_100 },
    ]);
  });

  it('refuses requests when not enabled, and stops the socket on disable', async () => {
    sut.connect();
    sut.disable();
    expect(sut.path()).toBe('idle');
    await expect(sut.send('command.send', SEND)).rejects.toMatchObject({ code: 'forbidden' });
  });
});
