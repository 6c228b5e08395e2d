import type { LatestValues } from '@iot/protocol';
import { DomainError } from '../domain/errors';
import type { AggregateQuery, HistoryQuery, Series } from '../domain/telemetry';
import { SqliteWorker } from './sqlite-writer-thread';

/**
 * Reads waiting for or on the reader thread past which a new one is refused
 * (503): a crowd of heavy history queries waits in a queue this long at
 * most, rather than without end.
 */
export const READ_QUEUE_MAX = 32;

/**
 * A read that runs longer than this is stopped (the thread is ended and
 * another started), so that one pathological query cannot hold every read
 * behind it; it and the reads queued behind it are answered 503.
 */
export const READ_TIMEOUT_MS = 30_000;

/**
 * A reader thread with no read for this long ends (a V8 isolate and a page
 * cache, about 11 MiB); the next read starts another, which takes some tens
 * of milliseconds. Dashboards read history when they open, rarely after.
 */
export const READER_REST_MS = 60_000;

export type ReadRequest =
  | { kind: 'latest'; id: number; deviceIds: string[] }
  | { kind: 'history'; id: number; query: HistoryQuery }
  | { kind: 'aggregate'; id: number; query: AggregateQuery };

export interface ReadReply {
  id: number;
  ready?: true;
  latest?: Map<string, LatestValues>;
  series?: Series;
  error?: string;
}

/** A read refused (READ_QUEUE_MAX reads already in flight) or stopped (READ_TIMEOUT_MS); answered 503. */
export class ReadsBusyError extends DomainError {
  constructor(message = 'too many history reads are in progress; retry shortly') {
    super('unavailable', message);
  }
}

/**
 * The event loop's side of the reader thread: telemetry reads (SqliteReads)
 * run on a connection of their own in a worker, one after another, so that a
 * heavy history or aggregate query never stalls the event loop (and with it
 * `/healthz`, the streams and ingest). If the thread dies, the reads in
 * flight fail and the next one starts it again.
 */
export class SqliteReaderThread {
  private readonly worker: SqliteWorker<ReadReply>;
  private nextId = 1;
  private readonly inFlight = new Map<
    number,
    { resolve: (reply: ReadReply) => void; reject: (error: Error) => void }
  >();
  private closed = false;
  /** Stops the read at the front of the queue (the one the thread runs) when it runs too long. */
  private deadline: NodeJS.Timeout | undefined;
  /** Ref'd while reads are in flight, so that the process waits for them (the idle thread does not hold it). */
  private readonly keepAlive = setTimeout(() => undefined, 2 ** 31 - 1).unref();
  /** Ends the thread once it has had no read for `restMs`. */
  private rest: NodeJS.Timeout | undefined;
  /** The thread ending after its rest; a read waits for it, then starts another. */
  private resting: Promise<void> | undefined;

  private constructor(
    path: string,
    private readonly timeoutMs: number,
    cacheKiB: number | undefined,
    private readonly restMs: number,
  ) {
    this.worker = new SqliteWorker<ReadReply>(
      { path, role: 'reader', restartWalPages: 0, cacheKiB },
      (reply) => this.settle(reply),
      (error) => {
        for (const request of this.inFlight.values()) request.reject(error);
        this.inFlight.clear();
        this.keepAlive.unref();
        this.disarmDeadline();
      },
    );
  }

  static async start(path: string, timeoutMs = READ_TIMEOUT_MS): Promise<SqliteReaderThread> {
    const thread = new SqliteReaderThread(path, timeoutMs, undefined, Infinity);
    await thread.worker.spawn();
    return thread;
  }

  /**
   * A reader whose thread starts with the first read and ends after
   * READER_REST_MS without one: an api nobody asks for history keeps no
   * thread for it.
   */
  static lazy(
    path: string,
    options: { timeoutMs?: number; cacheKiB?: number; restMs?: number } = {},
  ): SqliteReaderThread {
    return new SqliteReaderThread(
      path,
      options.timeoutMs ?? READ_TIMEOUT_MS,
      options.cacheKiB,
      options.restMs ?? READER_REST_MS,
    );
  }

  /** Whether its thread is running. */
  get started(): boolean {
    return this.worker.current !== undefined;
  }

  async latest(deviceIds: string[]): Promise<Map<string, LatestValues>> {
    return (await this.request((id) => ({ kind: 'latest', id, deviceIds }))).latest ?? new Map();
  }

  async history(query: HistoryQuery): Promise<Series> {
    return (await this.request((id) => ({ kind: 'history', id, query }))).series ?? {};
  }

  async aggregate(query: AggregateQuery): Promise<Series> {
    return (await this.request((id) => ({ kind: 'aggregate', id, query }))).series ?? {};
  }

  async close(): Promise<void> {
    this.closed = true;
    this.disarmDeadline();
    clearTimeout(this.rest);
    await this.resting;
    await this.worker.close();
    clearTimeout(this.keepAlive);
  }

  private async request(message: (id: number) => ReadRequest): Promise<ReadReply> {
    if (this.closed) throw new Error('the SQLite reader is closed');
    clearTimeout(this.rest);
    // A thread ending after its rest reads nothing more: this read goes to the next one (not in flight
    // meanwhile, so the end of the old thread does not fail it).
    while (this.resting) await this.resting;
    if (this.closed) throw new Error('the SQLite reader is closed');
    if (this.inFlight.size >= READ_QUEUE_MAX) throw new ReadsBusyError();
    const id = this.nextId++;
    const reply = new Promise<ReadReply>((resolve, reject) => this.inFlight.set(id, { resolve, reject }));
    this.keepAlive.ref();
    // A thread that fails to start rejects it as well as the spawn below: the caller sees the spawn's error.
    reply.catch(() => undefined);
    try {
      const worker = this.worker.current ?? (await this.worker.spawn());
      worker.postMessage(message(id));
      // The thread runs reads in order: with none before it, this one runs now.
      if (this.deadline === undefined) this.armDeadline();
    } catch (error) {
      this.inFlight.delete(id);
      if (this.inFlight.size === 0) this.keepAlive.unref();
      throw error;
    }
    return reply;
  }

  private settle(reply: ReadReply): void {
    const request = this.inFlight.get(reply.id);
    this.inFlight.delete(reply.id);
    this.disarmDeadline();
    if (this.inFlight.size === 0) {
      this.keepAlive.unref();
      this.armRest();
    } else {
      this.armDeadline();
    }
    if (reply.error === undefined) request?.resolve(reply);
    else request?.reject(new Error(reply.error));
  }

  private armRest(): void {
    if (this.restMs === Infinity || this.closed) return;
    clearTimeout(this.rest);
    this.rest = setTimeout(() => {
      if (this.inFlight.size > 0 || this.closed) return;
      this.resting = this.worker.close().finally(() => (this.resting = undefined));
    }, this.restMs).unref();
  }

  private armDeadline(): void {
    clearTimeout(this.deadline);
    this.deadline = setTimeout(() => this.stopSlowRead(), this.timeoutMs).unref();
  }

  private disarmDeadline(): void {
    clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  /** Ends the thread running a read that took too long; that read and those behind it are answered 503. */
  private stopSlowRead(): void {
    this.deadline = undefined;
    this.worker.terminate();
    const seconds = this.timeoutMs / 1000;
    let first = true;
    for (const request of this.inFlight.values()) {
      request.reject(
        new ReadsBusyError(
          first
            ? `the read ran for more than ${seconds} s and was stopped: ask for a shorter range or fewer keys`
            : 'a read before this one ran too long and was stopped; retry shortly',
        ),
      );
      first = false;
    }
    this.inFlight.clear();
    this.keepAlive.unref();
  }
}
