import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import type { CommandEvent, CommandView, ServerFrameMap } from '@iot/protocol';
import { Subject } from 'rxjs';
import { StreamService, type StreamMessage } from '../stream/stream.service';
import { fakeStream } from '../testing/fake-stream';
import { CONTROL_REPLY_TIMEOUT_MS, ControlError } from './control-socket.service';
import { HttpControlTransport } from './http-control';

const COMMAND = {
  commandId: 'cmd-1',
  deviceId: 'boiler-1',
  name: 'reboot',
  params: {},
  status: 'pending',
  timeoutMs: 30_000,
  issuedAt: 1_000,
  expiresAt: 601_000,
  sentAt: null,
  updatedAt: 1_000,
  createdBy: 'ada',
} satisfies CommandView;

describe('HttpControlTransport', () => {
  let sut: HttpControlTransport;
  let http: HttpTestingController;
  let messages: Subject<StreamMessage>;
  let updates: Array<ServerFrameMap['command.status']>;

  beforeEach(() => {
    jest.useFakeTimers();
    messages = new Subject();
    TestBed.configureTestingModule({
      providers: [
        provideHttpClient(),
        provideHttpClientTesting(),
        { provide: StreamService, useValue: fakeStream(messages) },
        { provide: CONTROL_REPLY_TIMEOUT_MS, useValue: 5_000 },
      ],
    });
    sut = TestBed.inject(HttpControlTransport);
    http = TestBed.inject(HttpTestingController);
    updates = [];
    sut.commandStatus.subscribe((update) => updates.push(update));
  });

  afterEach(() => {
    http.verify();
    TestBed.resetTestingModule();
    jest.useRealTimers();
  });

  function sse(overrides: Partial<CommandEvent>): void {
    messages.next({
      event: 'command',
      id: '',
      data: { commandId: 'cmd-1', deviceId: 'boiler-1', name: 'reboot', status: 'sent', ts: 1_100, ...overrides },
    });
  }

  it('sends a command with POST and answers as the socket would, with the real first transition', async () => {
    const reply = sut.send('command.send', {
      deviceId: 'boiler-1',
      name: 'reboot',
      params: { delay: 5 },
      timeoutMs: 2_000,
    });

    const post = http.expectOne({ method: 'POST', url: '/api/v1/devices/boiler-1/commands' });
    expect(post.request.body).toEqual({ name: 'reboot', params: { delay: 5 }, timeoutMs: 2_000 });
    post.flush({ commandId: 'cmd-1', status: 'pending' }, { status: 202, statusText: 'Accepted' });
    await jest.advanceTimersByTimeAsync(0);
    http
      .expectOne({ method: 'GET', url: '/api/v1/commands/cmd-1' })
      .flush({ ...COMMAND, transitions: [{ status: 'pending', ts: 1_000, by: 'ada' }] });

    await expect(reply).resolves.toEqual({
      requestId: expect.any(String),
      commandId: 'cmd-1',
      deviceId: 'boiler-1',
      name: 'reboot',
      status: 'pending',
      ts: 1_000,
    });
  });

  it('reports the later transitions of its own commands from the stream, and no one else’s', async () => {
    const reply = sut.send('command.send', { deviceId: 'boiler-1', name: 'reboot' });
    http.expectOne('/api/v1/devices/boiler-1/commands').flush({ commandId: 'cmd-1', status: 'pending' });
    await jest.advanceTimersByTimeAsync(0);
    http.expectOne('/api/v1/commands/cmd-1').flush({ ...COMMAND, transitions: [{ status: 'pending', ts: 1_000 }] });
    await reply;

    sse({ commandId: 'cmd-other', status: 'sent' });
    sse({ status: 'sent', ts: 1_100 });
    sse({ status: 'succeeded', ts: 1_200, result: { ok: true } });
    sse({ status: 'succeeded', ts: 1_200 }); // after the end it is no longer followed

    expect(updates).toEqual([
      { commandId: 'cmd-1', deviceId: 'boiler-1', name: 'reboot', status: 'sent', ts: 1_100 },
      {
        commandId: 'cmd-1',
        deviceId: 'boiler-1',
        name: 'reboot',
        status: 'succeeded',
        ts: 1_200,
        result: { ok: true },
      },
    ]);
  });

  it('publishes transitions that happened before the record was read, in order', async () => {
    const reply = sut.send('command.send', { deviceId: 'boiler-1', name: 'reboot' });
    http.expectOne('/api/v1/devices/boiler-1/commands').flush({ commandId: 'cmd-1', status: 'pending' });
    await jest.advanceTimersByTimeAsync(0);
    http.expectOne('/api/v1/commands/cmd-1').flush({
      ...COMMAND,
      status: 'succeeded',
      result: 42,
      transitions: [
        { status: 'pending', ts: 1_000 },
        { status: 'sent', ts: 1_010 },
        { status: 'succeeded', ts: 1_020 },
      ],
    });

    await expect(reply).resolves.toMatchObject({ status: 'pending', ts: 1_000 });
    expect(updates.map((u) => [u.status, u.ts, u.result])).toEqual([
      ['sent', 1_010, undefined],
      ['succeeded', 1_020, 42],
    ]);
  });

  it('cancels with POST /commands/{id}/cancel', async () => {
    const reply = sut.send('command.cancel', { commandId: 'cmd-1' });
    const post = http.expectOne({ method: 'POST', url: '/api/v1/commands/cmd-1/cancel' });
    expect(post.request.body).toEqual({});
    post.flush({ ...COMMAND, status: 'cancelled', updatedAt: 1_500 });

    await expect(reply).resolves.toEqual({
      requestId: expect.any(String),
      commandId: 'cmd-1',
      deviceId: 'boiler-1',
      name: 'reboot',
      status: 'cancelled',
      ts: 1_500,
    });
  });

  it('changes the desired state with PATCH and If-Match, answering state.result', async () => {
    const reply = sut.send('state.desired.set', { deviceId: 'boiler-1', patch: { target: 21 }, expectedVersion: 3 });
    const patch = http.expectOne({ method: 'PATCH', url: '/api/v1/devices/boiler-1/state/desired' });
    expect(patch.request.body).toEqual({ target: 21 });
    expect(patch.request.headers.get('If-Match')).toBe('"3"');
    patch.flush({ version: 4 });

    await expect(reply).resolves.toEqual({ requestId: expect.any(String), deviceId: 'boiler-1', version: 4 });
  });

  it.each([
    [412, 'conflict'],
    [409, 'conflict'],
    [403, 'forbidden'],
    [404, 'not_found'],
    [429, 'rate_limited'],
    [400, 'bad_request'],
    [500, 'internal'],
  ])('turns HTTP %i into the socket’s %s error, with the api’s message', async (status, code) => {
    const reply = sut.send('state.desired.set', { deviceId: 'boiler-1', patch: { target: 21 }, expectedVersion: 3 });
    http
      .expectOne('/api/v1/devices/boiler-1/state/desired')
      .flush({ statusCode: status, error: 'x', message: 'the reason' }, { status, statusText: 'x' });

    const error = await reply.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ControlError);
    expect(error).toMatchObject({ code, message: 'the reason' });
  });

  it('turns a network failure into `disconnected` and no answer into `timeout`', async () => {
    const lost = sut.send('command.cancel', { commandId: 'cmd-1' });
    http.expectOne('/api/v1/commands/cmd-1/cancel').error(new ProgressEvent('error'));
    await expect(lost).rejects.toMatchObject({ code: 'disconnected' });

    const slow = sut.send('command.cancel', { commandId: 'cmd-2' });
    const caught = slow.catch((e: unknown) => e);
    http.expectOne('/api/v1/commands/cmd-2/cancel');
    await jest.advanceTimersByTimeAsync(5_000);
    expect(await caught).toMatchObject({ code: 'timeout' });
  });
});
