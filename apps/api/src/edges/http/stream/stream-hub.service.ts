import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import {
  type BeforeApplicationShutdown,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type DeviceEventName, STREAM_HEARTBEAT_MS } from '@iot/protocol';
import { APP_CONFIG, type AppConfig } from '../../../platform/config/config';
import type { AuthUser } from '../../../core/auth/auth-user';
import { DeviceAccess } from '../../../core/auth/device-access';
import { EventBus } from '../../../core/events/event-bus';
import { EventLog } from '../../../core/events/event-log.service';
import { MetricsService } from '../../../platform/metrics/metrics.service';
import type { EventFilter, StoredEvent } from '../../../domain/events';
import { formatEventId, parseEventId } from './event-id';
import type { StreamFilters } from './stream-query';
import { chunkOf, detachStream, endStream, writeChunk } from './stream-socket';

/** A counting semaphore: at most `limit` holders at once, the rest served in arrival order. */
class Semaphore {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<() => void> {
    if (this.held < this.limit) this.held++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter.
      if (next) next();
      else this.held--;
    };
  }
}

/** An event serialised once, shared by every client that gets it. */
interface Frame {
  seq: number;
  type: DeviceEventName;
  deviceId: string;
  bytes: Buffer;
}

export interface StreamRequest extends StreamFilters {
  username: string;
  /** The login the stream was opened with; the stream closes when it ends. */
  sessionId?: string;
  /** X-Request-Id for the head, when no one set it on the response yet (the route served before Express). */
  requestId?: string;
  lastEventId?: string;
  /** The user's scope (AuthUser.scope): only devices it lets them see are streamed; absent, every device. */
  scope?: AuthUser['scope'];
}

/** What an open stream keeps: thousands sit idle, so its socket and only what fan-out reads (docs/performance.md). */
class StreamClient {
  /** The newest seq this client has been sent (or skipped by its filter). */
  lastSeq = 0;
  /** Live frames held while the client replays from the log. */
  pending: Frame[] | undefined = [];
  pendingBytes = 0;
  sessionId: string | undefined;

  constructor(
    /** The connection, out of the HTTP server once the head is sent (stream-socket.ts). */
    readonly socket: Socket,
    /** HTTP/1.1's chunked body, or HTTP/1.0's bare one. */
    readonly chunked: boolean,
    readonly username: string,
    readonly deviceIds: ReadonlySet<string> | undefined,
    readonly types: ReadonlySet<DeviceEventName> | undefined,
    /** The user's scope, asked per frame, so a device relabelled out of it stops at once. */
    readonly sees: ((deviceId: string) => boolean) | undefined,
  ) {}

  send(bytes: Buffer | string): void {
    writeChunk(this.socket, this.chunked, bytes);
  }

  wants(frame: Frame): boolean {
    return (
      (!this.deviceIds || this.deviceIds.has(frame.deviceId)) &&
      (!this.types || this.types.has(frame.type)) &&
      (!this.sees || this.sees(frame.deviceId))
    );
  }
}

/** A replay page holds at most this many events, and ends after the event that brings it to REPLAY_PAGE_BYTES. */
const REPLAY_PAGE_EVENTS = 1_000;
const REPLAY_PAGE_BYTES = 256 * 1024;
/**
 * A replaying client is given its next page only once its socket holds at
 * most this much unsent, so a resumer that does not read costs a page or two
 * of memory, not the log (issue #13: 200 such resumers took 1 GB).
 */
const REPLAY_SOCKET_BYTES = 64 * 1024;
/** Replays reading the log at once; the others wait their turn. */
const REPLAY_READERS = 4;
const RETRY_MS = 2_000;
const RETRY = Buffer.from(`retry: ${RETRY_MS}\n\n`);
const HEARTBEAT = Buffer.from(':\n\n');
/** The heartbeat as one HTTP chunk: a single prebuilt write per stream. */
const HEARTBEAT_CHUNK = chunkOf(HEARTBEAT);

/**
 * Server-Sent Events fan-out. Committed events are serialised once per
 * batch and written to each matching client as one buffer, so a batch is one
 * syscall per client. A client resuming with Last-Event-ID first replays
 * the log from storage while live events wait in its queue; every frame is
 * sent once, in log order; the log is read a page at a time, only as fast
 * as the client's socket drains. A client whose socket already holds more
 * than SSE_MAX_QUEUED_BYTES unsent when there is more to send is dropped: it
 * can resume where it was. Frames go to a socket that is under the bound
 * whatever their size, so no single event can make a stream unservable.
 * Streams are capped per user and in all (SSE_MAX_STREAMS_PER_USER,
 * SSE_MAX_STREAMS).
 */
@Injectable()
export class StreamHub implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(StreamHub.name);
  /** Clients without a device filter, and clients by each device they asked for. */
  private readonly everyDevice = new Set<StreamClient>();
  private readonly byDevice = new Map<string, Set<StreamClient>>();
  /** Keyed by socket, so one shared 'close' listener finds its client (no closure per stream). */
  private readonly clients = new Map<Socket, StreamClient>();
  private readonly onClose: (this: Socket) => void;
  /** Open streams per username. */
  private readonly perUser = new Map<string, number>();
  private readonly replayReads = new Semaphore(REPLAY_READERS);
  private lastSeq = 0;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly log: EventLog,
    private readonly access: DeviceAccess,
    bus: EventBus,
  ) {
    bus.on('committed', (events, receivedAt) => this.publish(events, receivedAt));
    bus.on('sessions.ended', (sessionIds) => this.closeSessions(sessionIds));
    const clients = this.clients;
    const remove = (client: StreamClient) => this.remove(client);
    this.onClose = function (this: Socket) {
      const client = clients.get(this);
      if (client) remove(client);
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    this.lastSeq = Math.max(this.lastSeq, (await this.log.bounds()).last);
    this.heartbeat = setInterval(() => this.beat(), STREAM_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Before the HTTP server closes: it waits for open connections, and streams never end by themselves. */
  beforeApplicationShutdown(): void {
    clearInterval(this.heartbeat);
    for (const client of this.clients.values()) client.socket.destroy();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Why `username` may not open another stream now, or undefined if it may. */
  refusal(username: string): string | undefined {
    if (this.clients.size >= this.config.sseMaxStreams) {
      return `the platform has ${this.config.sseMaxStreams} streams open, its limit (SSE_MAX_STREAMS); retry later`;
    }
    if ((this.perUser.get(username) ?? 0) >= this.config.sseMaxStreamsPerUser) {
      return `you have ${this.config.sseMaxStreamsPerUser} streams open, the limit per user (SSE_MAX_STREAMS_PER_USER); close one first`;
    }
    return undefined;
  }

  /**
   * Opens a stream on `res` (the request already authenticated and
   * validated). `allowedOrigin` adds the CORS headers the cors middleware
   * would have set, for a request that did not go through Express.
   * Throws 429 past the stream caps (see {@link refusal}).
   */
  async open(res: ServerResponse, request: StreamRequest, allowedOrigin?: string): Promise<void> {
    const refused = this.refusal(request.username);
    if (refused !== undefined) {
      this.metrics.refuseSse('too_many_streams');
      throw new HttpException(refused, HttpStatus.TOO_MANY_REQUESTS);
    }
    const headers = {
      ...(request.requestId !== undefined && { 'X-Request-Id': request.requestId }),
      ...(allowedOrigin !== undefined && {
        'Access-Control-Allow-Origin': allowedOrigin,
        Vary: 'Origin',
        'Access-Control-Allow-Credentials': 'true',
      }),
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      // Of helmet's headers the one that matters for a response never rendered as a document; the
      // rest would lengthen the head every idle stream keeps (docs/protocol.md §3).
      'X-Content-Type-Options': 'nosniff',
    };
    res.writeHead(200, headers);
    res.socket?.setNoDelay(true);
    res.socket?.setTimeout(0);
    res.socket?.setKeepAlive(true);
    // The head and the retry in one packet, all of it on the socket before the hub takes the socket over.
    res.cork();
    res.flushHeaders();
    res.write(RETRY);
    res.uncork();
    // Read after the head went out: Node decides it from the request's HTTP version.
    const chunked = (res as ServerResponse & { chunkedEncoding?: boolean }).chunkedEncoding === true;
    const socket = detachStream(res);
    if (!socket) return;
    const scope = request.scope ?? null;
    const sees = scope === null ? undefined : (deviceId: string) => this.access.sees({ scope }, deviceId);
    const client = new StreamClient(socket, chunked, request.username, request.deviceIds, request.types, sees);
    client.sessionId = request.sessionId;
    this.add(client);
    socket.on('close', this.onClose);

    const epoch = this.log.epoch;
    const seq = request.lastEventId === undefined ? undefined : parseEventId(epoch, request.lastEventId);
    const bounds = request.lastEventId === undefined ? undefined : await this.log.bounds();
    // Ended meanwhile (its user deleted, say): a write after end would be an unhandled 'error'.
    if (!this.clients.has(socket)) return;
    if (request.lastEventId === undefined) {
      this.goLive(client, this.lastSeq);
    } else if (seq === undefined || !bounds || seq < bounds.prunedThrough || seq > bounds.last) {
      const reason =
        seq === undefined
          ? 'unknown event id'
          : seq > (bounds?.last ?? 0)
            ? 'event id from the future'
            : 'event id too old';
      const head = Math.max(this.lastSeq, bounds?.last ?? 0);
      client.send(`id: ${formatEventId(epoch, head)}\nevent: reset\ndata: ${JSON.stringify({ reason })}\n\n`);
      this.goLive(client, head);
    } else {
      await this.replay(client, seq);
    }
  }

  /**
   * Sends the log after `from`, a page at a time, each page only once the
   * socket has drained to REPLAY_SOCKET_BYTES; pages are bounded by count
   * and bytes, and at most REPLAY_READERS replays read the log at once.
   * Live frames wait in `pending` meanwhile (bounded by `hold`).
   */
  private async replay(client: StreamClient, from: number): Promise<void> {
    const filter: EventFilter = { deviceIds: client.deviceIds, types: client.types };
    let cursor = from;
    for (let more = true; more; ) {
      if (!(await this.roomFor(client))) return;
      const release = await this.replayReads.acquire();
      try {
        if (!this.isOpen(client)) return;
        const page = await this.log.eventsAfter(cursor, filter, REPLAY_PAGE_EVENTS, REPLAY_PAGE_BYTES);
        if (!this.isOpen(client)) return;
        client.socket.cork();
        for (const event of page) if (!client.sees || client.sees(event.deviceId)) client.send(this.frame(event).bytes);
        client.socket.uncork();
        if (page.length > 0) cursor = page[page.length - 1].seq;
        // A page cut short by neither bound is the end of the log; anything later is pending.
        more = page.length === REPLAY_PAGE_EVENTS || this.pageBytes(page) >= REPLAY_PAGE_BYTES;
      } finally {
        release();
      }
    }
    // Live frames go out under the same bound as every live write.
    if (!(await this.roomFor(client))) return;
    this.goLive(client, cursor);
  }

  private pageBytes(page: StoredEvent[]): number {
    let bytes = 0;
    for (const event of page) bytes += event.data.length;
    return bytes;
  }

  /** Not closed, dropped or ended by the hub (writing to an ended response would throw asynchronously). */
  private isOpen(client: StreamClient): boolean {
    return !client.socket.destroyed && this.clients.has(client.socket);
  }

  /** Resolves true once the client's socket holds at most REPLAY_SOCKET_BYTES unsent; false if it closed. */
  private roomFor(client: StreamClient): Promise<boolean> {
    const socket = client.socket;
    if (!this.isOpen(client)) return Promise.resolve(false);
    if (socket.writableLength <= REPLAY_SOCKET_BYTES) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve(this.isOpen(client));
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  private goLive(client: StreamClient, seq: number): void {
    const pending = client.pending ?? [];
    client.pending = undefined;
    client.pendingBytes = 0;
    client.lastSeq = seq;
    const wanted = pending.filter((frame) => frame.seq > seq && client.wants(frame));
    if (pending.length > 0) client.lastSeq = Math.max(seq, pending[pending.length - 1].seq);
    if (wanted.length > 0)
      this.write(client, wanted.length === 1 ? wanted[0].bytes : Buffer.concat(wanted.map((f) => f.bytes)));
  }

  private frame(event: StoredEvent): Frame {
    const id = formatEventId(this.log.epoch, event.seq);
    return {
      seq: event.seq,
      type: event.type,
      deviceId: event.deviceId,
      bytes: Buffer.from(`id: ${id}\nevent: ${event.type}\ndata: ${event.data}\n\n`),
    };
  }

  /**
   * Fans a committed batch out to every matching client: one write per client
   * per batch (one HTTP chunk, one syscall), and clients that take every
   * event share a single buffer of the whole batch.
   */
  private publish(events: StoredEvent[], receivedAt: number[]): void {
    if (events.length === 0) return;
    const lastSeq = events[events.length - 1].seq;
    this.lastSeq = lastSeq;
    if (this.clients.size === 0) return;
    const frames = events.map((event) => this.frame(event));
    let whole: Buffer | undefined;
    const wholeBatch = () =>
      (whole ??= frames.length === 1 ? frames[0].bytes : Buffer.concat(frames.map((f) => f.bytes)));
    for (const client of this.everyDevice) {
      if (client.pending) {
        this.hold(client, frames);
      } else if (!client.types && !client.sees && client.lastSeq < frames[0].seq) {
        client.lastSeq = lastSeq;
        this.write(client, wholeBatch());
      } else {
        this.write(client, this.select(client, frames, wholeBatch));
      }
    }
    if (this.byDevice.size > 0) {
      const perClient = new Map<StreamClient, Frame[]>();
      for (const frame of frames) {
        for (const client of this.byDevice.get(frame.deviceId) ?? []) {
          let list = perClient.get(client);
          if (!list) perClient.set(client, (list = []));
          list.push(frame);
        }
      }
      for (const [client, mine] of perClient) {
        if (client.pending) this.hold(client, mine);
        else this.write(client, this.select(client, mine));
      }
    }
    const now = Date.now();
    for (const at of receivedAt) this.metrics.mqttToSse.observe((now - at) / 1000);
  }

  /**
   * The frames a live client has not had yet and wants, as one buffer: the
   * batch's shared one when that is all of them (say, `events=telemetry` and a
   * batch of telemetry), so such clients cost no copy either.
   */
  private select(client: StreamClient, frames: Frame[], wholeBatch?: () => Buffer): Buffer | undefined {
    const wanted = frames.filter((f) => f.seq > client.lastSeq && client.wants(f));
    if (wanted.length === 0) return undefined;
    client.lastSeq = wanted[wanted.length - 1].seq;
    if (wanted.length === frames.length && wholeBatch) return wholeBatch();
    return wanted.length === 1 ? wanted[0].bytes : Buffer.concat(wanted.map((f) => f.bytes));
  }

  /**
   * The backlog is judged before writing: a socket under the bound takes the
   * next frames whatever their size (an event larger than the bound could
   * otherwise never be sent), and one already over it is dropped.
   */
  private write(client: StreamClient, bytes: Buffer | undefined): void {
    if (bytes === undefined) return;
    if (client.socket.writableLength > this.config.sseMaxQueuedBytes) this.drop(client);
    else client.send(bytes);
  }

  /** Live frames wait while the client replays from the log; past the bound it is dropped rather than held. */
  private hold(client: StreamClient, frames: Frame[]): void {
    const pending = client.pending;
    if (!pending) return;
    if (client.pendingBytes > this.config.sseMaxQueuedBytes) {
      this.drop(client);
      return;
    }
    for (const frame of frames) {
      pending.push(frame);
      client.pendingBytes += frame.bytes.length;
    }
  }

  private drop(client: StreamClient): void {
    this.metrics.sseDropped.inc();
    this.logger.debug(`dropping a slow stream of ${client.username}`);
    this.remove(client);
    client.socket.destroy();
  }

  private beat(): void {
    for (const client of this.clients.values()) {
      if (!client.pending) client.socket.write(client.chunked ? HEARTBEAT_CHUNK : HEARTBEAT);
    }
  }

  /** Ends every stream opened with one of these sessions (logged out, or ended by a password or role change). */
  closeSessions(sessionIds: ReadonlySet<string>): void {
    for (const client of this.clients.values()) {
      if (client.sessionId !== undefined && sessionIds.has(client.sessionId)) {
        this.remove(client);
        endStream(client.socket, client.chunked);
      }
    }
  }

  private add(client: StreamClient): void {
    this.clients.set(client.socket, client);
    this.perUser.set(client.username, (this.perUser.get(client.username) ?? 0) + 1);
    const ids = client.deviceIds;
    if (!ids) this.everyDevice.add(client);
    else
      for (const id of ids) {
        let set = this.byDevice.get(id);
        if (!set) this.byDevice.set(id, (set = new Set()));
        set.add(client);
      }
    this.metrics.sseClients.set(this.clients.size);
  }

  private remove(client: StreamClient): void {
    if (!this.clients.delete(client.socket)) return;
    const open = (this.perUser.get(client.username) ?? 1) - 1;
    if (open > 0) this.perUser.set(client.username, open);
    else this.perUser.delete(client.username);
    this.everyDevice.delete(client);
    for (const id of client.deviceIds ?? []) {
      const set = this.byDevice.get(id);
      set?.delete(client);
      if (set?.size === 0) this.byDevice.delete(id);
    }
    this.metrics.sseClients.set(this.clients.size);
  }
}
