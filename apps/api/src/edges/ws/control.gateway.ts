import type { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import { Inject, Logger, type OnModuleDestroy } from '@nestjs/common';
import { type OnGatewayConnection, type OnGatewayDisconnect, WebSocketGateway } from '@nestjs/websockets';
import type { RawData, WebSocket } from 'ws';
import {
  API_BASE_PATH,
  type ClientFrameMap,
  type CommandEvent,
  type ErrorCode,
  type ServerFrameMap,
  SOCKET_PATH,
  TERMINAL_COMMAND_STATUSES,
  WS_CLOSE,
  clientFrameSchemas,
  frameEnvelopeSchema,
  isClientFrameName,
  roleAtLeast,
} from '@iot/protocol';
import type { AuthUser } from '../../core/auth/auth-user';
import { DeviceAccess } from '../../core/auth/device-access';
import { DomainError, type DomainErrorCode, unmappedCode } from '../../domain/errors';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { CommandsService, commandEvent } from '../../core/commands/commands.service';
import { EventBus } from '../../core/events/event-bus';
import { MetricsService } from '../../platform/metrics/metrics.service';
import { StateService } from '../../core/state/state.service';
import { AuditService } from '../../core/audit/audit.service';
import { TurnCorker } from '../../platform/net/turn-corker';

const PING_INTERVAL_MS = 30_000;
/** requestIds a socket remembers for de-duplication (the oldest are forgotten first). */
const MAX_REMEMBERED_REQUESTS = 1_000;
/**
 * Reply bytes queued on a socket whose client does not read them, past which
 * it is closed (1013): a flood of requests must not queue answers without bound.
 */
export const WS_MAX_BUFFERED_BYTES = 1024 * 1024;
/** Longest requestId a reply repeats (the schemas' bound). */
const MAX_REQUEST_ID_LENGTH = 128;

/**
 * The `error` frame code for a refusal by the core: the code of the same
 * request's HTTP status (errorCodeForStatus), so both fail alike.
 */
export function frameCodeForDomainError(code: DomainErrorCode): ErrorCode {
  switch (code) {
    case 'bad_request':
    case 'not_found':
    case 'conflict':
      return code;
    case 'precondition_failed':
      return 'conflict';
    case 'too_large':
      return 'bad_request';
    case 'unavailable':
      return 'internal';
    default:
      return unmappedCode(code);
  }
}

/** One user's token bucket, shared by all of that user's sockets (#13: a limit per socket is no limit). */
interface Budget {
  tokens: number;
  refilledAt: number;
  /** Open sockets drawing on it; at 0 it is kept until full again, so reconnecting does not refill it. */
  sockets: number;
}

interface SocketState {
  user: AuthUser;
  /** The client's address, for the audit log. */
  address: string | null;
  alive: boolean;
  budget: Budget;
  /** requestId of each command.send on this socket → its command id (once made). */
  requests: Map<string, Promise<string>>;
  /** The TCP connection under the socket, corked while a turn writes frames to it. */
  connection?: Writable;
}

/** The socket and requestId that each open command answers to. */
interface Owner {
  socket: WebSocket;
  requestId: string;
}

/** The requestId a parsed frame carries, if it is one a reply can repeat. */
function requestIdOf(envelope: unknown): string | undefined {
  if (typeof envelope !== 'object' || envelope === null) return undefined;
  const data = (envelope as { data?: unknown }).data;
  if (typeof data !== 'object' || data === null) return undefined;
  const requestId = (data as { requestId?: unknown }).requestId;
  const fits = typeof requestId === 'string' && requestId.length > 0 && requestId.length <= MAX_REQUEST_ID_LENGTH;
  return fits ? requestId : undefined;
}

/**
 * The WebSocket way in from browsers: `{event, data}` frames, validated with
 * the protocol schemas and dispatched by one switch. Every request gets
 * exactly one direct reply (or an `error` with its requestId); later
 * transitions of a command go to the socket that sent it. Requests draw on
 * one token bucket per user; how many sockets a user may open is checked at
 * the upgrade (PlatformWsAdapter).
 */
@WebSocketGateway({ path: `${API_BASE_PATH}${SOCKET_PATH}` })
export class ControlGateway implements OnGatewayConnection, OnGatewayDisconnect, OnModuleDestroy {
  private readonly logger = new Logger(ControlGateway.name);
  private readonly sockets = new Map<WebSocket, SocketState>();
  private readonly owners = new Map<string, Owner>();
  /** username → the token bucket all of that user's sockets draw on. */
  private readonly budgets = new Map<string, Budget>();
  private readonly ratePerSecond: number;
  private readonly rateBurst: number;
  private readonly pinger: NodeJS.Timeout;
  private readonly unsubscribe: Array<() => void>;
  private readonly corker = new TurnCorker();

  constructor(
    private readonly commands: CommandsService,
    private readonly state: StateService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) config: AppConfig,
    bus: EventBus,
    private readonly audit: AuditService,
    private readonly access: DeviceAccess,
  ) {
    this.ratePerSecond = config.wsRatePerSecond;
    this.rateBurst = config.wsRateBurst;
    this.unsubscribe = [
      bus.on('command.transition', (update) => this.onCommandUpdate(update)),
      bus.on('sessions.ended', (sessionIds) => this.closeSessions(sessionIds)),
    ];
    this.pinger = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.pinger);
    for (const stop of this.unsubscribe) stop();
  }

  /** The upgrade was verified (see PlatformWsAdapter): find its user again and set the socket up. */
  async handleConnection(socket: WebSocket, req: IncomingMessage): Promise<void> {
    const user = (req as IncomingMessage & { user?: AuthUser }).user;
    if (!user) {
      socket.close(WS_CLOSE.policyViolation, 'unauthorized');
      return;
    }
    let budget = this.budgets.get(user.username);
    if (!budget) {
      budget = { tokens: this.rateBurst, refilledAt: Date.now(), sockets: 0 };
      this.budgets.set(user.username, budget);
    }
    budget.sockets++;
    const state: SocketState = {
      user,
      address: req.socket.remoteAddress ?? null,
      alive: true,
      budget,
      requests: new Map(),
      connection: req.socket,
    };
    this.sockets.set(socket, state);
    this.metrics.wsClients.set(this.sockets.size);
    socket.on('pong', () => (state.alive = true));
    socket.on('error', (error) => this.logger.debug(`socket of ${user.username}: ${error.message}`));
    socket.on('message', (data, isBinary) => this.onMessage(socket, state, data, isBinary));
  }

  handleDisconnect(socket: WebSocket): void {
    // Closing a socket never cancels its commands: their outcome still reaches history and SSE.
    const state = this.sockets.get(socket);
    this.sockets.delete(socket);
    this.metrics.wsClients.set(this.sockets.size);
    if (!state) return;
    state.budget.sockets--;
    for (const [commandId, owner] of this.owners) {
      if (owner.socket === socket) this.owners.delete(commandId);
    }
  }

  /** Closes every socket opened with one of these sessions (logged out, or ended by a password or role change). */
  closeSessions(sessionIds: ReadonlySet<string>): void {
    for (const [socket, state] of this.sockets) {
      if (sessionIds.has(state.user.sessionId)) socket.close(WS_CLOSE.policyViolation, 'session ended');
    }
  }

  /**
   * Handles one frame. It never throws and leaves no promise rejected: an
   * error in one socket's request is answered (`internal`, with the
   * requestId) and logged, and never takes the process down (#13).
   */
  private onMessage(socket: WebSocket, state: SocketState, data: RawData, isBinary: boolean): void {
    let requestId: string | undefined;
    try {
      // Closing (say, for not reading its replies): nobody would read an answer.
      if (socket.readyState !== socket.OPEN) return;
      if (isBinary) {
        this.metrics.refuseWs('binary_frame');
        socket.close(WS_CLOSE.unsupportedData, 'frames are JSON text');
        return;
      }
      // Parsed before the rate check (frames are at most 64 KiB), so a refusal can carry its requestId.
      let envelope: unknown;
      let valid = true;
      try {
        envelope = JSON.parse(data.toString());
      } catch {
        valid = false;
      }
      requestId = requestIdOf(envelope);
      if (!this.take(state.budget)) {
        const message = `at most ${this.ratePerSecond} requests a second (bursts of ${this.rateBurst}) per user`;
        return this.fail(socket, requestId, 'rate_limited', message);
      }
      if (!valid) return this.fail(socket, requestId, 'bad_request', 'the frame is not valid JSON');
      const frame = frameEnvelopeSchema.safeParse(envelope);
      if (!frame.success) {
        return this.fail(socket, requestId, 'bad_request', 'a frame is {"event": string, "data": object}');
      }
      const { event } = frame.data;
      if (!isClientFrameName(event)) {
        const known = Object.keys(clientFrameSchemas).join(', ');
        return this.fail(socket, requestId, 'bad_request', `unknown event ${JSON.stringify(event)}; use ${known}`);
      }
      const parsed = clientFrameSchemas[event].safeParse(frame.data.data);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return this.fail(socket, requestId, 'bad_request', `${issue.path.join('.') || 'data'}: ${issue.message}`);
      }
      if (!roleAtLeast(state.user.role, 'operator')) {
        const message = `${event} needs the operator role; you are ${state.user.role}`;
        return this.fail(socket, requestId, 'forbidden', message);
      }
      const request = parsed.data as ClientFrameMap[typeof event];
      this.dispatch(socket, state, event, request).then(
        () => this.audited(state, event, request, 'ok'),
        (error: unknown) => {
          this.audited(state, event, request, error instanceof DomainError && error.code !== 'unavailable' ? 'refused' : 'failed');
          this.failed(socket, requestId, event, error);
        },
      );
    } catch (error) {
      this.failed(socket, requestId, 'frame', error);
    }
  }

  /** Records a request in the audit log, as the REST twin of each frame is. */
  private audited<K extends keyof ClientFrameMap>(
    state: SocketState,
    event: K,
    data: ClientFrameMap[K],
    outcome: 'ok' | 'refused' | 'failed',
  ): void {
    const entry = { actor: state.user.username, outcome, address: state.address };
    if (event === 'command.send') {
      const request = data as ClientFrameMap['command.send'];
      this.audit.record({ ...entry, action: 'command.send', target: request.deviceId, detail: request.name });
    } else if (event === 'command.cancel') {
      const request = data as ClientFrameMap['command.cancel'];
      this.audit.record({ ...entry, action: 'command.cancel', target: request.commandId, detail: null });
    } else {
      const request = data as ClientFrameMap['state.desired.set'];
      const fields = Object.keys(request.patch).slice(0, 32).join(',');
      this.audit.record({ ...entry, action: 'state.desired', target: request.deviceId, detail: fields || null });
    }
  }

  /** Answers a request whose handling threw: its code for a refusal by the core, else `internal`. Never throws. */
  private failed(socket: WebSocket, requestId: string | undefined, what: string, error: unknown): void {
    try {
      if (error instanceof DomainError) {
        return this.fail(socket, requestId, frameCodeForDomainError(error.code), error.message);
      }
      this.logger.error(`${what}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      this.fail(socket, requestId, 'internal', 'internal error');
    } catch (inner) {
      this.logger.error(`answering a failed ${what}: ${String(inner)}`);
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
          this.send(socket, 'command.status', { requestId: request.requestId, ...commandEvent(command) });
          return;
        }
        this.inScope(state, request.deviceId);
        const { requestId, ...send } = request;
        // This socket answers for the command from before its first transition, which is the direct reply.
        let commandId: string | undefined;
        const made = this.commands
          .send(send, state.user.username, (id) => {
            commandId = id;
            this.owners.set(id, { socket, requestId });
          })
          .then((command) => command.id);
        // Remembered at once, so a repeat that arrives while this one is in flight waits for it.
        state.requests.set(requestId, made);
        if (state.requests.size > MAX_REMEMBERED_REQUESTS) {
          const [oldest] = state.requests.keys();
          state.requests.delete(oldest);
        }
        try {
          await made;
        } catch (error) {
          state.requests.delete(requestId);
          if (commandId !== undefined) this.owners.delete(commandId);
          throw error;
        }
        return;
      }
      case 'command.cancel': {
        const request = data as ClientFrameMap['command.cancel'];
        if (this.access.limited(state.user)) {
          const target = await this.commands.get(request.commandId);
          if (!this.access.sees(state.user, target.deviceId)) {
            throw new DomainError('not_found', `no command ${request.commandId}`);
          }
        }
        const command = await this.commands.cancel(request.commandId, state.user.username);
        this.send(socket, 'command.status', { requestId: request.requestId, ...commandEvent(command) });
        return;
      }
      case 'state.desired.set': {
        const request = data as ClientFrameMap['state.desired.set'];
        this.inScope(state, request.deviceId);
        const { version } = await this.state.setDesired(request.deviceId, request.patch, request.expectedVersion);
        this.send(socket, 'state.result', { requestId: request.requestId, deviceId: request.deviceId, version });
        return;
      }
    }
  }

  /** A device outside the user's scope is answered as an unknown one. */
  private inScope(state: SocketState, deviceId: string): void {
    if (!this.access.sees(state.user, deviceId)) throw new DomainError('not_found', `no device ${deviceId}`);
  }

  private onCommandUpdate(update: CommandEvent): void {
    const owner = this.owners.get(update.commandId);
    if (!owner) return;
    this.send(owner.socket, 'command.status', { requestId: owner.requestId, ...update });
    if (TERMINAL_COMMAND_STATUSES.has(update.status)) this.owners.delete(update.commandId);
  }

  private send<K extends keyof ServerFrameMap>(socket: WebSocket, event: K, data: ServerFrameMap[K]): void {
    if (socket.readyState !== socket.OPEN) return;
    const connection = this.sockets.get(socket)?.connection;
    if (connection) this.corker.cork(connection);
    socket.send(JSON.stringify({ event, data }));
    if (socket.bufferedAmount > WS_MAX_BUFFERED_BYTES) {
      this.metrics.refuseWs('unread_replies');
      socket.close(WS_CLOSE.tryAgainLater, 'too many unread replies');
    }
  }

  private fail(socket: WebSocket, requestId: string | undefined, code: ErrorCode, message: string): void {
    this.metrics.refuseWs(code);
    this.send(socket, 'error', { ...(requestId !== undefined && { requestId }), code, message });
  }

  /** Takes a token from a user's bucket. */
  private take(budget: Budget): boolean {
    const now = Date.now();
    budget.tokens = Math.min(this.rateBurst, budget.tokens + ((now - budget.refilledAt) / 1000) * this.ratePerSecond);
    budget.refilledAt = now;
    if (budget.tokens < 1) return false;
    budget.tokens -= 1;
    return true;
  }

  private ping(): void {
    // Buckets of users with no socket left are forgotten once they would be full anyway.
    const now = Date.now();
    for (const [username, budget] of this.budgets) {
      const full = budget.tokens + ((now - budget.refilledAt) / 1000) * this.ratePerSecond >= this.rateBurst;
      if (budget.sockets === 0 && full) this.budgets.delete(username);
    }
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
