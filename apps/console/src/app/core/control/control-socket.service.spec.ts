import { TestBed } from '@angular/core/testing';
import type { ServerFrameMap } from '@iot/protocol';
import { type FakeWebSocket, fakeWebSockets } from '../testing/fake-web-socket';
import { CONTROL_REPLY_TIMEOUT_MS, ControlError, ControlSocketService } from './control-socket.service';
import { CONTROL_SOCKET_URL, WEB_SOCKET_FACTORY } from './web-socket';

const URL = 'ws://console.test/api/v1/ws';

function statusFrame(
  requestId: string,
  overrides: Partial<ServerFrameMap['command.status']> = {},
): ServerFrameMap['command.status'] {
  return {
    requestId,
    commandId: 'cmd-1',
    deviceId: 'boiler-1',
    name: 'reboot',
    status: 'sent',
    ts: 1_000,
    ...overrides,
  };
}

describe('ControlSocketService', () => {
  let sut: ControlSocketService;
  let sockets: ReturnType<typeof fakeWebSockets>;
  let uuid: number;

  beforeEach(() => {
    jest.useFakeTimers();
    // With random() at 0.5 a delay is 3/4 of its exponential step (1 s base).
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    uuid = 0;
    jest
      .spyOn(crypto, 'randomUUID')
      .mockImplementation(() => `00000000-0000-4000-8000-${String(++uuid).padStart(12, '0')}`);
    sockets = fakeWebSockets();
    TestBed.configureTestingModule({
      providers: [
        { provide: WEB_SOCKET_FACTORY, useValue: sockets.factory },
        { provide: CONTROL_SOCKET_URL, useValue: URL },
        { provide: CONTROL_REPLY_TIMEOUT_MS, useValue: 5_000 },
      ],
    });
    sut = TestBed.inject(ControlSocketService);
  });

  afterEach(() => {
    TestBed.resetTestingModule();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  function openSocket(): FakeWebSocket {
    sut.enable();
    sut.connect();
    const socket = sockets.latest();
    socket.open();
    return socket;
  }

  it('does not connect until enabled and asked', () => {
    sut.connect();
    expect(sockets.created).toHaveLength(0);
    expect(sut.state()).toBe('idle');

    sut.enable();
    expect(sockets.created).toHaveLength(0);

    sut.connect();
    expect(sockets.created).toHaveLength(1);
    expect(sockets.latest().url).toBe(URL);
    expect(sut.state()).toBe('connecting');
    sockets.latest().open();
    expect(sut.state()).toBe('open');

    sut.connect();
    expect(sockets.created).toHaveLength(1);
  });

  it('rejects requests while not enabled (a viewer)', async () => {
    await expect(sut.send('command.cancel', { commandId: 'c' })).rejects.toMatchObject({ code: 'forbidden' });
    expect(sockets.created).toHaveLength(0);
  });

  it('matches each reply to its request by requestId', async () => {
    const socket = openSocket();
    const first = sut.send('command.send', { deviceId: 'boiler-1', name: 'reboot' });
    const second = sut.send('state.desired.set', { deviceId: 'boiler-1', patch: { a: 1 }, expectedVersion: 3 });

    expect(socket.sent).toEqual([
      {
        event: 'command.send',
        data: { deviceId: 'boiler-1', name: 'reboot', requestId: expect.stringMatching(/-000000000001$/) },
      },
      {
        event: 'state.desired.set',
        data: {
          deviceId: 'boiler-1',
          patch: { a: 1 },
          expectedVersion: 3,
          requestId: expect.stringMatching(/-000000000002$/),
        },
      },
    ]);
    const [firstId, secondId] = socket.sent.map((frame) => frame.data['requestId'] as string);

    // Answers arrive in the other order; a frame for an unknown request is ignored.
    socket.receive('state.result', { requestId: 'someone-else', deviceId: 'boiler-1', version: 99 });
    socket.receive('state.result', { requestId: secondId, deviceId: 'boiler-1', version: 4 });
    socket.receive('command.status', statusFrame(firstId, { commandId: 'cmd-7' }));

    await expect(second).resolves.toEqual({ requestId: secondId, deviceId: 'boiler-1', version: 4 });
    await expect(first).resolves.toMatchObject({ requestId: firstId, commandId: 'cmd-7', status: 'sent' });
  });

  it('rejects a request answered with an error frame, keeping the code and message', async () => {
    const socket = openSocket();
    const request = sut.send('state.desired.set', { deviceId: 'boiler-1', patch: {}, expectedVersion: 1 });
    socket.receive('error', { requestId: socket.lastRequestId(), code: 'conflict', message: 'version is 2' });

    const error = await request.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ControlError);
    expect(error).toMatchObject({ code: 'conflict', message: 'version is 2' });
  });

  it('queues a request made before the socket is open and sends it on open', async () => {
    sut.enable();
    const request = sut.send('command.cancel', { commandId: 'cmd-1' });
    const socket = sockets.latest();
    expect(socket.sent).toHaveLength(0);

    socket.open();
    expect(socket.sent).toHaveLength(1);
    socket.receive('command.status', statusFrame(socket.lastRequestId(), { status: 'cancelled' }));
    await expect(request).resolves.toMatchObject({ status: 'cancelled' });
  });

  it('rejects a request that gets no answer in time', async () => {
    openSocket();
    const request = sut.send('command.cancel', { commandId: 'cmd-1' });
    jest.advanceTimersByTime(5_000);
    await expect(request).rejects.toMatchObject({ code: 'timeout' });
  });

  it('publishes every command.status frame, including later transitions', async () => {
    const socket = openSocket();
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const seen: string[] = [];
    sut.commandStatus.subscribe((frame) => seen.push(frame.status));
    const request = sut.send('command.send', { deviceId: 'boiler-1', name: 'reboot' });
    const requestId = socket.lastRequestId();
    socket.receive('command.status', statusFrame(requestId, { status: 'sent', ts: 1 }));
    await request;
    socket.receive('command.status', statusFrame(requestId, { status: 'accepted', ts: 2 }));
    socket.receive('command.status', statusFrame(requestId, { status: 'succeeded', ts: 3 }));
    socket.receive('command.status', { ...statusFrame(requestId), status: 'bogus' });
    socket.receiveRaw('not json');

    expect(seen).toEqual(['sent', 'accepted', 'succeeded']);
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('reconnects with exponential backoff and resets it once open', () => {
    const first = openSocket();
    first.drop();
    expect(sut.state()).toBe('reconnecting');

    // attempt 0: step 1 s → 750 ms
    jest.advanceTimersByTime(749);
    expect(sockets.created).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(sockets.created).toHaveLength(2);

    // attempt 1 fails before opening: step 2 s → 1500 ms
    sockets.latest().drop();
    jest.advanceTimersByTime(1_499);
    expect(sockets.created).toHaveLength(2);
    jest.advanceTimersByTime(1);
    expect(sockets.created).toHaveLength(3);

    // attempt 2: step 4 s → 3000 ms
    sockets.latest().drop();
    jest.advanceTimersByTime(2_999);
    expect(sockets.created).toHaveLength(3);
    jest.advanceTimersByTime(1);
    expect(sockets.created).toHaveLength(4);

    sockets.latest().open();
    expect(sut.state()).toBe('open');
    sockets.latest().drop();
    jest.advanceTimersByTime(750);
    expect(sockets.created).toHaveLength(5);
  });

  it('rejects requests in flight when the socket drops, rather than resending them', async () => {
    const socket = openSocket();
    const request = sut.send('command.send', { deviceId: 'boiler-1', name: 'reboot' });
    socket.drop();
    await expect(request).rejects.toMatchObject({ code: 'disconnected' });

    jest.advanceTimersByTime(750);
    sockets.latest().open();
    expect(sockets.latest().sent).toHaveLength(0);
  });

  it('closes, stops reconnecting and rejects pending requests when disabled', async () => {
    const socket = openSocket();
    const request = sut.send('command.cancel', { commandId: 'cmd-1' });
    socket.drop();
    await expect(request).rejects.toBeInstanceOf(ControlError);
    sut.disable();
    jest.advanceTimersByTime(60_000);
    expect(sockets.created).toHaveLength(1);
    expect(sut.state()).toBe('idle');

    const again = openSocket();
    sut.disable();
    expect(again.closedByClient).toBe(true);
  });
});
