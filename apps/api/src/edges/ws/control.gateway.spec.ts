import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { type ErrorCode, errorCodeForStatus } from '@iot/protocol';
import { EventBus } from '../../core/events/event-bus';
import type { AuthUser } from '../../core/auth/auth-user';
import { DeviceAccess } from '../../core/auth/device-access';
import type { CommandsService } from '../../core/commands/commands.service';
import type { AppConfig } from '../../platform/config/config';
import type { MetricsService } from '../../platform/metrics/metrics.service';
import type { StateService } from '../../core/state/state.service';
import type { AuditService } from '../../core/audit/audit.service';
import { DomainError, type DomainErrorCode } from '../../domain/errors';
import { ControlGateway, WS_MAX_BUFFERED_BYTES, frameCodeForDomainError } from './control.gateway';

/** Just what the gateway uses of a `ws` socket; records what it is sent. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: Array<{ event: string; data: Record<string, unknown> }> = [];
  readonly close = jest.fn<void, [code?: number, reason?: string]>(() => {
    this.readyState = 2;
  });
  readonly ping = jest.fn();
  readonly terminate = jest.fn();

  send(text: string): void {
    this.sent.push(JSON.parse(text) as { event: string; data: Record<string, unknown> });
  }

  frame(event: string, data: unknown): void {
    this.emit('message', Buffer.from(JSON.stringify({ event, data })), false);
  }
}

/** Lets the promises of a dispatch settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ControlGateway', () => {
  let sut: ControlGateway;
  let state: { setDesired: jest.Mock };
  let metrics: { refuseWs: jest.Mock; wsClients: { set: jest.Mock } };
  let logged: jest.SpyInstance;
  let commands: { send: jest.Mock };
  let bus: EventBus;
  let audited: unknown[];
  let access: DeviceAccess;

  function make(config: Partial<AppConfig> = {}): ControlGateway {
    bus = new EventBus();
    return new ControlGateway(
      commands as unknown as CommandsService,
      state as unknown as StateService,
      metrics as unknown as MetricsService,
      { wsRatePerSecond: 20, wsRateBurst: 40, ...config } as AppConfig,
      bus,
      { record: (entry: unknown) => void audited.push(entry) } as unknown as AuditService,
      access,
    );
  }

  async function connect(
    username = 'olga',
    role: AuthUser['role'] = 'operator',
    connection?: { cork(): void; uncork(): void },
    scope: AuthUser['scope'] = null,
  ): Promise<FakeSocket> {
    const socket = new FakeSocket();
    await sut.handleConnection(
      socket as unknown as WebSocket,
      {
        user: { username, role, scope },
        socket: { remoteAddress: '10.0.0.9', ...(connection ?? { cork: () => undefined, uncork: () => undefined }) },
      } as unknown as IncomingMessage,
    );
    return socket;
  }

  const setDesired = (socket: FakeSocket, requestId: string) =>
    socket.frame('state.desired.set', { requestId, deviceId: 'd1', patch: { on: true } });

  beforeEach(() => {
    state = { setDesired: jest.fn().mockResolvedValue({ version: 1 }) };
    commands = { send: jest.fn() };
    metrics = { refuseWs: jest.fn(), wsClients: { set: jest.fn() } };
    logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    audited = [];
    access = new DeviceAccess();
    sut = make();
  });

  afterEach(() => {
    sut.onModuleDestroy();
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  describe('command.send', () => {
    const update = (status: 'sent' | 'accepted' | 'succeeded', ts: number, commandId = 'c1') => ({
      commandId,
      deviceId: 'd1',
      name: 'reboot',
      status,
      ts,
    });
    const send = (socket: FakeSocket, requestId: string) =>
      socket.frame('command.send', { requestId, deviceId: 'd1', name: 'reboot' });
    const replies = (socket: FakeSocket) =>
      socket.sent.map(({ event, data }) => [event, data['requestId'], data['commandId'], data['status']]);

    it('answers with each transition of its command once, from the first, announced before send() returns', async () => {
      commands.send.mockImplementation((_request: unknown, _by: string, claim: (id: string) => void) => {
        claim('c1');
        bus.emit('command.transition', update('sent', 1));
        bus.emit('command.transition', update('accepted', 2));
        return Promise.resolve({ id: 'c1' });
      });
      const socket = await connect();
      send(socket, 'r1');
      await settle();
      bus.emit('command.transition', update('sent', 3, 'someone-elses'));
      bus.emit('command.transition', update('succeeded', 4));
      bus.emit('command.transition', update('succeeded', 5));
      expect(replies(socket)).toEqual([
        ['command.status', 'r1', 'c1', 'sent'],
        ['command.status', 'r1', 'c1', 'accepted'],
        ['command.status', 'r1', 'c1', 'succeeded'],
      ]);
      expect(commands.send).toHaveBeenCalledWith({ deviceId: 'd1', name: 'reboot' }, 'olga', expect.any(Function));
    });

    it("holds the frames of one turn on the socket's connection until the turn is done", async () => {
      commands.send.mockImplementation((_request: unknown, _by: string, claim: (id: string) => void) => {
        claim('c1');
        return Promise.resolve({ id: 'c1' });
      });
      const connection = { cork: jest.fn(), uncork: jest.fn() };
      const socket = await connect('olga', 'operator', connection);
      send(socket, 'r1');
      await settle();

      bus.emit('command.transition', update('sent', 1));
      bus.emit('command.transition', update('succeeded', 2));
      expect(socket.sent).toHaveLength(2);
      expect(connection.cork).toHaveBeenCalledTimes(1);
      expect(connection.uncork).not.toHaveBeenCalled();

      await new Promise((resolve) => process.nextTick(resolve));
      expect(connection.uncork).toHaveBeenCalledTimes(1);
    });

    it('answers a send that fails with internal, and forgets the command it claimed', async () => {
      commands.send.mockImplementation((_request: unknown, _by: string, claim: (id: string) => void) => {
        claim('c2');
        return Promise.reject(new Error('database gone'));
      });
      const socket = await connect();
      send(socket, 'r2');
      await settle();
      bus.emit('command.transition', update('sent', 1, 'c2'));
      expect(replies(socket)).toEqual([['error', 'r2', undefined, undefined]]);
    });
  });

  describe('an error in a request never escapes the socket (#13)', () => {
    it('answers a handler that throws synchronously with internal and its requestId, and logs it', async () => {
      state.setDesired.mockImplementation(() => {
        throw new TypeError('x.safeParse is not a function');
      });
      const socket = await connect();
      expect(() => setDesired(socket, 'r1')).not.toThrow();
      await settle();
      expect(socket.sent).toEqual([
        { event: 'error', data: { requestId: 'r1', code: 'internal', message: 'internal error' } },
      ]);
      expect(logged).toHaveBeenCalledWith(expect.stringContaining('x.safeParse is not a function'));
    });

    it('records each request in the audit log with its outcome, the names of the fields it set and never their values', async () => {
      const socket = await connect();
      setDesired(socket, 'r1');
      await settle();
      state.setDesired.mockRejectedValue(new DomainError('bad_request', 'desired.on: must be boolean'));
      setDesired(socket, 'r2');
      await settle();
      const entry = { actor: 'olga', address: '10.0.0.9', action: 'state.desired', target: 'd1', detail: 'on' };
      expect(audited).toEqual([
        { ...entry, outcome: 'ok' },
        { ...entry, outcome: 'refused' },
      ]);
    });

    it('answers a rejected promise the same way', async () => {
      state.setDesired.mockRejectedValue(new Error('database gone'));
      const socket = await connect();
      setDesired(socket, 'r2');
      await settle();
      expect(socket.sent).toEqual([
        { event: 'error', data: { requestId: 'r2', code: 'internal', message: 'internal error' } },
      ]);
    });

    it('answers internal when anything before the dispatch throws', async () => {
      metrics.refuseWs.mockImplementationOnce(() => {
        throw new Error('counter broke');
      });
      const socket = await connect();
      expect(() => socket.frame('nope', { requestId: 'r3' })).not.toThrow();
      expect(socket.sent).toEqual([
        { event: 'error', data: { requestId: 'r3', code: 'internal', message: 'internal error' } },
      ]);
    });

    it("answers a request for a device outside the user's scope as one for an unknown device, with its requestId", async () => {
      access.load([
        { id: 'd1', labels: { site: 'b' } },
        { id: 'd2', labels: { site: 'a' } },
      ]);
      const socket = await connect('olga', 'operator', undefined, new Map([['site', 'a']]));
      socket.frame('command.send', { requestId: 'r1', deviceId: 'd1', name: 'reboot' });
      setDesired(socket, 'r2');
      socket.frame('state.desired.set', { requestId: 'r3', deviceId: 'd2', patch: { on: true } });
      await settle();
      expect(commands.send).not.toHaveBeenCalled();
      expect(state.setDesired.mock.calls.map((call) => call[0])).toEqual(['d2']);
      expect(socket.sent).toEqual([
        { event: 'error', data: { requestId: 'r1', code: 'not_found', message: 'no device d1' } },
        { event: 'error', data: { requestId: 'r2', code: 'not_found', message: 'no device d1' } },
        { event: 'state.result', data: { requestId: 'r3', deviceId: 'd2', version: 1 } },
      ]);
    });

    it("answers a cancel of a command of a device outside the user's scope as one of an unknown command", async () => {
      access.load([{ id: 'd1', labels: { site: 'b' } }]);
      const cancel = jest.fn();
      Object.assign(commands, { get: jest.fn().mockResolvedValue({ id: 'c1', deviceId: 'd1' }), cancel });
      const socket = await connect('olga', 'operator', undefined, new Map([['site', 'a']]));
      socket.frame('command.cancel', { requestId: 'r1', commandId: 'c1' });
      await settle();
      expect(cancel).not.toHaveBeenCalled();
      expect(socket.sent).toEqual([
        { event: 'error', data: { requestId: 'r1', code: 'not_found', message: 'no command c1' } },
      ]);
    });

    it('answers a refusal by the core with its code and message, and does not log it', async () => {
      state.setDesired.mockRejectedValue(new DomainError('precondition_failed', 'version 3 is not 2'));
      const socket = await connect();
      setDesired(socket, 'r4');
      await settle();
      expect(socket.sent).toEqual([
        { event: 'error', data: { requestId: 'r4', code: 'conflict', message: 'version 3 is not 2' } },
      ]);
      expect(logged).not.toHaveBeenCalled();
    });

    it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
      'answers the event %j with bad_request',
      async (event) => {
        const socket = await connect('victor', 'viewer');
        socket.frame(event, { requestId: 'r5' });
        expect(socket.sent).toEqual([
          { event: 'error', data: { requestId: 'r5', code: 'bad_request', message: expect.stringContaining(event) } },
        ]);
      },
    );
  });

  it('closes a socket with 1013 once its unread replies pass the bound, and answers nothing more on it', async () => {
    const socket = await connect();
    socket.bufferedAmount = WS_MAX_BUFFERED_BYTES + 1;
    socket.frame('nope', { requestId: 'r6' });
    expect(socket.sent).toHaveLength(1);
    expect(socket.close).toHaveBeenCalledWith(1013, 'too many unread replies');
    expect(metrics.refuseWs).toHaveBeenCalledWith('unread_replies');
    socket.frame('nope', { requestId: 'r7' });
    setDesired(socket, 'r8');
    await settle();
    expect(socket.sent).toHaveLength(1);
    expect(state.setDesired).not.toHaveBeenCalled();
  });

  describe('rate limit', () => {
    beforeEach(() => {
      jest.useFakeTimers({ now: 1_000_000, doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
      sut.onModuleDestroy();
      sut = make({ wsRatePerSecond: 2, wsRateBurst: 3 });
    });

    const codes = (socket: FakeSocket) =>
      socket.sent.map((f) => `${String(f.data['requestId'])}:${f.event === 'error' ? String(f.data['code']) : 'ok'}`);

    it("is one bucket for all of a user's sockets, refilled at the configured rate, and refusals carry the requestId", async () => {
      const a = await connect('olga');
      const b = await connect('olga');
      const other = await connect('omar');
      setDesired(a, 'a1');
      setDesired(a, 'a2');
      setDesired(b, 'b1');
      setDesired(b, 'b2');
      setDesired(other, 'c1');
      await settle();
      expect(codes(a)).toEqual(['a1:ok', 'a2:ok']);
      expect(codes(b)).toEqual(['b2:rate_limited', 'b1:ok']);
      expect(b.sent[0].data['message']).toBe('at most 2 requests a second (bursts of 3) per user');
      expect(codes(other)).toEqual(['c1:ok']);
      jest.advanceTimersByTime(500);
      setDesired(b, 'b3');
      setDesired(b, 'b4');
      await settle();
      expect(codes(b).slice(2)).toEqual(['b4:rate_limited', 'b3:ok']);
    });

    it("keeps an emptied bucket when the user's sockets close, so reconnecting gives no fresh burst", async () => {
      const a = await connect('olga');
      for (const id of ['a1', 'a2', 'a3']) setDesired(a, id);
      sut.handleDisconnect(a as unknown as WebSocket);
      const b = await connect('olga');
      setDesired(b, 'b1');
      await settle();
      expect(codes(b)).toEqual(['b1:rate_limited']);
    });
  });
});

describe('frameCodeForDomainError', () => {
  /** Each code's HTTP status and frame code; a Record, so a new code does not compile until it is added here. */
  const expected: Record<DomainErrorCode, [status: number, frameCode: ErrorCode]> = {
    bad_request: [400, 'bad_request'],
    not_found: [404, 'not_found'],
    conflict: [409, 'conflict'],
    precondition_failed: [412, 'conflict'],
    too_large: [413, 'bad_request'],
    unavailable: [503, 'internal'],
  };

  const rows = Object.entries(expected).map(
    ([code, [status, frameCode]]): [DomainErrorCode, number, ErrorCode] => [code as DomainErrorCode, status, frameCode],
  );

  it.each(rows)('answers %s (HTTP %i) with %s, the code of that status', (code, status, frameCode) => {
    expect(frameCodeForDomainError(code)).toBe(frameCode);
    // As the console's REST fallback reads the same refusal.
    expect(errorCodeForStatus(status)).toBe(frameCode);
  });
});
