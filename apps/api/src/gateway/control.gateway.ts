import type { IncomingMessage } from 'node:http';
import { HttpException, Logger, type OnModuleDestroy } from '@nestjs/common';
import { type OnGatewayConnection, type OnGatewayDisconnect, WebSocketGateway } from '@nestjs/websockets';
import type { RawData, WebSocket } from 'ws';
import {
  API_BASE_PATH,
  type ClientFrameMap,
  type ErrorCode,
  type ServerFrameMap,
  SOCKET_PATH,
  TERMINAL_COMMAND_STATUSES,
  WS_CLOSE,
  clientFrameSchemas,
  frameEnvelopeSchema,
  roleAtLeast,
} from '@iot/protocol';
import type { AuthUser } from '../auth/decorators';
import { CommandsService, type CommandUpdate } from '../commands/commands.service';
import { MetricsService } from '../metrics/metrics.service';
import { StateService } from '../state/state.service';

/** Requests a socket may make per second on average, and in a burst. */
const RATE_PER_SECOND = 20;
const RATE_BURST = 40;
const PING_INTERVAL_MS = 30_000;
/** requestIds a socket remembers for de-duplication (the oldest are forgotten first). */
const MAX_REMEMBERED_REQUESTS = 1_000;

interface SocketState {
  user: AuthUser;
  alive: boolean;
  tokens: number;
  refilledAt: number;
  /** requestId of each command.send on this socket → its command id (once made). */
  requests: Map<string, Promise<string>>;
}

/** The socket and requestId that each open command answers to. */
interface Owner {
  socket: WebSocket;
  requestId: string;
}

function errorCode(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
    case 412:
      return 'conflict';
    case 429:
      return 'rate_limited';
    default:
      return status >= 400 && status < 500 ? 'bad_request' : 'internal';
  }
}

/**
 * The WebSocket way in from browsers: `{event, data}` frames, validated with
 * the protocol schemas and dispatched by one switch. Every request gets
 * exactly one direct reply (or an `error` with its requestId); later
 * transitions of a command go to the socket that sent it.
 */
@WebSocketGateway({ path: `${API_BASE_PATH}${SOCKET_PATH}` })
export class ControlGateway implements OnGatewayConnection, OnGatewayDisconnect, OnModuleDestroy {
  private readonly logger = new Logger(ControlGateway.name);
  private readonly sockets = new Map<WebSocket, SocketState>();
  private readonly owners = new Map<string, Owner>();
  private readonly pinger: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly commands: CommandsService,
    private readonly state: StateService,
    private readonly metrics: MetricsService,
  ) {
    this.unsubscribe = commands.onTransition((update) => this.onCommandUpdate(update));
    this.pinger = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.pinger);
    this.unsubscribe();
  }

  /** The upgrade was verified (see PlatformWsAdapter): find its user again and set the socket up. */
  async handleConnection(socket: WebSocket, req: IncomingMessage): Promise<void> {
    const user = (req as IncomingMessage & { user?: AuthUser }).user;
    if (!user) {
      socket.close(WS_CLOSE.policyViolation, 'unauthorized');
      return;
    }
    const state: SocketState = { user, alive: true, tokens: RATE_BURST, refilledAt: Date.now(), requests: new Map() };
    this.sockets.set(socket, state);
    this.metrics.wsClients.set(this.sockets.size);
    socket.on('pong', () => (state.alive = true));
    socket.on('error', (error) => this.logger.debug(`socket of ${user.username}: ${error.message}`));
    socket.on('message', (data, isBinary) => void this.onFrame(socket, state, data, isBinary));
  }

  handleDisconnect(socket: WebSocket): void {
    // Closing a socket never cancels its commands: their outcome still reaches history and SSE.
    const state = this.sockets.get(socket);
    this.sockets.delete(socket);
    this.metrics.wsClients.set(this.sockets.size);
    if (!state) return;
    for (const [commandId, owner] of this.owners) {
      if (owner.socket === socket) this.owners.delete(commandId);
    }
  }

  /** Closes every socket of a user (deleted, or role changed). */
  closeUser(username: string): void {
    for (const [socket, state] of this.sockets) {
      if (state.user.username === username) socket.close(WS_CLOSE.policyViolation, 'session ended');
    }
  }

  /** Closes every socket opened with one of these sessions (logged out, or ended by a password or role change). */
  closeSessions(sessionIds: ReadonlySet<string>): void {
    for (const [socket, state] of this.sockets) {
      if (sessionIds.has(state.user.sessionId)) socket.close(WS_CLOSE.policyViolation, 'session ended');
    }
  }

  private async onFrame(socket: WebSocket, state: SocketState, data: RawData, isBinary: boolean): Promise<void> {
    if (isBinary) {
      this.metrics.reject('ws_binary_frame');
      socket.close(WS_CLOSE.unsupportedData, 'frames are JSON text');
      return;
    }
    if (!this.take(state)) {
      this.metrics.reject('ws_rate_limited');
      this.send(socket, 'error', { code: 'rate_limited', message: `at most ${RATE_PER_SECOND} requests a second` });
      return;
    }
    let envelope: unknown;
    try {
      envelope = JSON.parse(data.toString());
    } catch {
      return this.fail(socket, undefined, 'bad_request', 'the frame is not valid JSON');
    }
    const frame = frameEnvelopeSchema.safeParse(envelope);
    if (!frame.success) return this.fail(socket, undefined, 'bad_request', 'a frame is {"event": string, "data": object}');
    const { event } = frame.data;
    const requestId = (frame.data.data as { requestId?: unknown } | null)?.requestId;
    const replyId = typeof requestId === 'string' && requestId.length <= 128 ? requestId : undefined;
    if (!(event in clientFrameSchemas)) {
      return this.fail(socket, replyId, 'bad_request', `unknown event ${JSON.stringify(event)}; use ${Object.keys(clientFrameSchemas).join(', ')}`);
    }
    const name = event as keyof typeof clientFrameSchemas;
    const parsed = clientFrameSchemas[name].safeParse(frame.data.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.fail(socket, replyId, 'bad_request', `${issue.path.join('.') || 'data'}: ${issue.message}`);
    }
    if (!roleAtLeast(state.user.role, 'operator')) {
      return this.fail(socket, replyId, 'forbidden', `${name} needs the operator role; you are ${state.user.role}`);
    }
    try {
      await this.dispatch(socket, state, name, parsed.data as ClientFrameMap[typeof name]);
    } catch (error) {
      if (error instanceof HttpException) {
        this.fail(socket, replyId, errorCode(error.getStatus()), error.message);
      } else {
        this.logger.error(`${name}: ${String(error)}`);
        this.fail(socket, replyId, 'internal', 'internal error');
      }
    }
  }

  private async dispatch<K extends keyof ClientFrameMap>(socket: WebSocket, state: SocketState, event: K, data: ClientFrameMap[K]): Promise<void> {
    switch (event) {
      case 'command.send': {
        const request = data as ClientFrameMap['command.send'];
        const known = state.requests.get(request.requestId);
        if (known) {
          // The same requestId again: the same command, never a second one.
          const command = await this.commands.get(await known);
          this.send(socket, 'command.status', {
            requestId: request.requestId,
            commandId: command.id,
            deviceId: command.deviceId,
            name: command.name,
            status: command.status,
            ...(command.result !== undefined && { result: command.result }),
            ...(command.error !== undefined && { error: command.error }),
            ts: command.updatedAt,
          });
          return;
        }
        const { requestId, ...send } = request;
        // Transitions that happen before the command's id is known are held here, then replayed in order.
        let commandId: string | undefined;
        const early: CommandUpdate[] = [];
        const stop = this.commands.onTransition((update) => {
          if (commandId === undefined || update.commandId === commandId) early.push(update);
        });
        const made = this.commands.send(send, state.user.username).then((command) => command.id);
        // Claimed at once, so a repeat that arrives while this one is in flight waits for it.
        state.requests.set(requestId, made);
        if (state.requests.size > MAX_REMEMBERED_REQUESTS) {
          const [oldest] = state.requests.keys();
          state.requests.delete(oldest);
        }
        try {
          commandId = await made;
          this.owners.set(commandId, { socket, requestId });
        } catch (error) {
          state.requests.delete(requestId);
          throw error;
        } finally {
          stop();
        }
        // The first transition is the direct reply; any later ones that already happened follow in order.
        for (const update of early.filter((u) => u.commandId === commandId)) {
          this.send(socket, 'command.status', { requestId, ...update });
        }
        return;
      }
      case 'command.cancel': {
        const request = data as ClientFrameMap['command.cancel'];
        const command = await this.commands.cancel(request.commandId, state.user.username);
        this.send(socket, 'command.status', {
          requestId: request.requestId,
          commandId: command.id,
          deviceId: command.deviceId,
          name: command.name,
          status: command.status,
          ts: command.updatedAt,
        });
        return;
      }
      case 'state.desired.set': {
        const request = data as ClientFrameMap['state.desired.set'];
        const { version } = await this.state.setDesired(request.deviceId, request.patch, request.expectedVersion);
        this.send(socket, 'state.result', { requestId: request.requestId, deviceId: request.deviceId, version });
        return;
      }
    }
  }

  private onCommandUpdate(update: CommandUpdate): void {
    const owner = this.owners.get(update.commandId);
    if (!owner) return;
    this.send(owner.socket, 'command.status', { requestId: owner.requestId, ...update });
    if (TERMINAL_COMMAND_STATUSES.has(update.status)) this.owners.delete(update.commandId);
  }

  private send<K extends keyof ServerFrameMap>(socket: WebSocket, event: K, data: ServerFrameMap[K]): void {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ event, data }));
  }

  private fail(socket: WebSocket, requestId: string | undefined, code: ErrorCode, message: string): void {
    this.metrics.reject(`ws_${code}`);
    this.send(socket, 'error', { ...(requestId !== undefined && { requestId }), code, message });
  }

  /** Token bucket per socket. */
  private take(state: SocketState): boolean {
    const now = Date.now();
    state.tokens = Math.min(RATE_BURST, state.tokens + ((now - state.refilledAt) / 1000) * RATE_PER_SECOND);
    state.refilledAt = now;
    if (state.tokens < 1) return false;
    state.tokens -= 1;
    return true;
  }

  private ping(): void {
    for (const [socket, state] of this.sockets) {
      if (!state.alive) {
        socket.terminate();
        continue;
      }
      state.alive = false;
      socket.ping();
    }
  }
}
