import { TestBed } from '@angular/core/testing';
import type { DeviceStateView } from '@iot/protocol';
import { Subject } from 'rxjs';
import { ControlSocketService } from '../core/control/control-socket.service';
import { CONTROL_SOCKET_URL, WEB_SOCKET_FACTORY } from '../core/control/web-socket';
import { DeviceApi } from '../core/devices/device-api';
import { type StreamMessage, StreamService } from '../core/stream/stream.service';
import { fakeStream } from '../core/testing/fake-stream';
import { type FakeWebSocket, fakeWebSockets } from '../core/testing/fake-web-socket';
import { strictMock } from '../core/testing/strict-mock';
import { DeviceStateStore } from './device-state.store';

function aState(overrides: Partial<DeviceStateView> = {}): DeviceStateView {
  return {
    reported: { interval: 5, mode: 'eco' },
    desired: { interval: 10 },
    delta: { interval: 10 },
    version: 3,
    reportedAt: 1_000,
    desiredAt: 900,
    ...overrides,
  };
}

describe('DeviceStateStore', () => {
  let sut: DeviceStateStore;
  let messages: Subject<StreamMessage>;
  let loads: Array<Subject<DeviceStateView>>;
  let socket: FakeWebSocket;

  function loaded(state: DeviceStateView): void {
    const load = loads[loads.length - 1];
    load.next(state);
    load.complete();
  }

  beforeEach(() => {
    messages = new Subject();
    loads = [];
    const sockets = fakeWebSockets();
    TestBed.configureTestingModule({
      providers: [
        DeviceStateStore,
        {
          provide: DeviceApi,
          useValue: strictMock<DeviceApi>(
            {
              state: () => {
                const load = new Subject<DeviceStateView>();
                loads.push(load);
                return load;
              },
            },
            'DeviceApi',
          ),
        },
        { provide: StreamService, useValue: fakeStream(messages) },
        { provide: WEB_SOCKET_FACTORY, useValue: sockets.factory },
        { provide: CONTROL_SOCKET_URL, useValue: 'ws://test/api/v1/ws' },
      ],
    });
    const control = TestBed.inject(ControlSocketService);
    control.enable();
    control.connect();
    socket = sockets.latest();
    socket.open();
    sut = TestBed.inject(DeviceStateStore);
    sut.open('boiler-1');
    loaded(aState());
  });

  afterEach(() => TestBed.resetTestingModule());

  it('sends the patch with the shown version as expectedVersion and shows the new version', async () => {
    const saving = sut.setDesired({ interval: 5 });
    expect(sut.saving()).toBe(true);
    expect(socket.sent[0]).toEqual({
      event: 'state.desired.set',
      data: { deviceId: 'boiler-1', patch: { interval: 5 }, expectedVersion: 3, requestId: expect.any(String) },
    });
    socket.receive('state.result', { requestId: socket.lastRequestId(), deviceId: 'boiler-1', version: 4 });

    await expect(saving).resolves.toEqual({ kind: 'saved', version: 4 });
    expect(sut.saving()).toBe(false);
    expect(sut.state()?.version).toBe(4);
    expect(sut.state()?.desired).toEqual({ interval: 5 });
    expect(sut.state()?.delta).toEqual({});
  });

  it('on conflict says so and reloads the state', async () => {
    const saving = sut.setDesired({ interval: 5 });
    socket.receive('error', { requestId: socket.lastRequestId(), code: 'conflict', message: 'at version 4' });

    const outcome = await saving;
    expect(outcome.kind).toBe('conflict');
    expect(sut.outcome()).toEqual(outcome);
    expect(outcome.kind === 'conflict' && outcome.message).toContain('version 3');
    expect(loads).toHaveLength(2);

    loaded(aState({ desired: { interval: 20 }, delta: { interval: 20 }, version: 4 }));
    expect(sut.state()?.version).toBe(4);
    expect(sut.state()?.desired).toEqual({ interval: 20 });
  });

  it('reports other errors without reloading', async () => {
    const saving = sut.setDesired({ interval: 5 });
    socket.receive('error', { requestId: socket.lastRequestId(), code: 'forbidden', message: 'viewers cannot' });
    await expect(saving).resolves.toEqual({ kind: 'error', message: 'viewers cannot' });
    expect(loads).toHaveLength(1);
  });

  it('applies SSE state events for this device, recomputing the delta, and ignores older ones', () => {
    messages.next({
      event: 'state',
      id: '',
      data: { deviceId: 'boiler-1', reported: { interval: 10 }, version: 3, ts: 2_000 },
    });
    expect(sut.state()?.reported).toEqual({ interval: 10 });
    expect(sut.state()?.delta).toEqual({});
    expect(sut.state()?.reportedAt).toBe(2_000);

    messages.next({
      event: 'state',
      id: '',
      data: { deviceId: 'boiler-1', desired: { interval: 1 }, version: 2, ts: 2_100 },
    });
    messages.next({
      event: 'state',
      id: '',
      data: { deviceId: 'other', desired: { interval: 1 }, version: 9, ts: 2_100 },
    });
    expect(sut.state()?.desired).toEqual({ interval: 10 });

    messages.next({
      event: 'state',
      id: '',
      data: { deviceId: 'boiler-1', desired: { interval: 30 }, version: 4, ts: 2_200 },
    });
    expect(sut.state()?.version).toBe(4);
    expect(sut.state()?.delta).toEqual({ interval: 30 });
  });
});
