import { ServiceUnavailableException } from '@nestjs/common';
import type { LatestValues } from '@iot/protocol';
import type { AggregateQuery, HistoryQuery, Series } from './storage';
import { SqliteWorker } from './sqlite-writer-thread';

/**
 * Reads waiting for or on the reader thread past which a new one is refused
 * (503): a crowd of heavy history queries waits in a queue this long at
 * most, rather than without end.
 */
export const READ_QUEUE_MAX = 32;

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

/** A read refused because the reader thread has READ_QUEUE_MAX reads already; answered 503. */
export class ReadsBusyError extends ServiceUnavailableException {
  constructor() {
    super('too many history reads are in progress; retry shortly');
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
  /** Ref'd while reads are in flight, so that the process waits for them (the idle thread does not hold it). */
  private readonly keepAlive = setTimeout(() => undefined, 2 ** 31 - 1).unref();

  private constructor(path: string) {
    this.worker = new SqliteWorker<ReadReply>(
      { path, role: 'reader', restartWalPages: 0 },
      (reply) => this.settle(reply),
      (error) => {
        for (const request of this.inFlight.values()) request.reject(error);
        this.inFlight.clear();
        this.keepAlive.unref();
      },
    );
  }

  static async start(path: string): Promise<SqliteReaderThread> {
    const thread = new SqliteReaderThread(path);
    await thread.worker.spawn();
    return thread;
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
    await this.worker.close();
    clearTimeout(this.keepAlive);
  }

  private async request(message: (id: number) => ReadRequest): Promise<ReadReply> {
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
    if (this.inFlight.size === 0) this.keepAlive.unref();
    if (reply.error === undefined) request?.resolve(reply);
    else request?.reject(new Error(reply.error));
  }
}
