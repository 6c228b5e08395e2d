import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Logger } from '@nestjs/common';
import type BetterSqlite3 from 'better-sqlite3';
import { openSqlite } from './sqlite-connection';
import type { CommitObserver } from './sqlite-event-writer';
import {
  encodeBatch,
  RESTART_WAL_PAGES,
  type PruneRequest,
  type WriterData,
  type WriterReply,
  type WriterRequest,
} from './sqlite-thread-messages';
import type { NewEvent } from '../domain/events';
import type { PruneResult } from '../domain/telemetry';

/**
 * Where the worker's code is: beside the bundle when built (webpack emits it
 * as its own entry), else the TypeScript source, loaded through the same
 * register hook the api's scripts and tests run under.
 */
function workerEntry(): { file: string; execArgv: string[]; env?: NodeJS.ProcessEnv } {
  const built = join(__dirname, 'sqlite-writer.js');
  // A CPU profile of the api (`node --cpu-prof`) takes in its threads too, each to its own file.
  if (existsSync(built)) return { file: built, execArgv: process.execArgv.filter((a) => a.startsWith('--cpu-prof')) };
  return {
    file: join(__dirname, 'sqlite-writer.worker.ts'),
    execArgv: ['--require', '@swc-node/register'],
    env: { ...process.env, SWC_NODE_PROJECT: join(__dirname, '../../tsconfig.app.json') },
  };
}

/** One worker thread of a role, started on demand and again after it dies. */
export class SqliteWorker<Reply extends { ready?: true } = WriterReply> {
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;

  constructor(
    private readonly data: WriterData,
    private readonly onReply: (reply: Reply) => void,
    private readonly onExit: (error: Error) => void,
  ) {}

  get current(): Worker | undefined {
    return this.worker;
  }

  spawn(): Promise<Worker> {
    this.starting ??= new Promise<Worker>((resolve, reject) => {
      const { file, execArgv, env } = workerEntry();
      const worker = new Worker(file, { workerData: this.data, execArgv, env });
      worker.on('message', (reply: Reply) => {
        if (!reply.ready) return this.onReply(reply);
        // An idle thread does not keep the process alive: the store's owner decides when it ends
        // (and closes the store first). While it starts, or has work (see SqliteWriterThread), it does.
        worker.unref();
        this.worker = worker;
        this.starting = undefined;
        resolve(worker);
      });
      const fail = (error: Error) => {
        if (this.worker === worker) this.worker = undefined;
        this.starting = undefined;
        reject(error);
        this.onExit(error);
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`the SQLite ${this.data.role} thread exited (${code})`)));
    });
    return this.starting;
  }

  /** Stops the running thread at once, its work lost, without a word to `onExit`; the next spawn starts another. */
  terminate(): void {
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    worker.removeAllListeners();
    worker.on('error', () => undefined);
    void worker.terminate();
  }

  async close(): Promise<void> {
    const worker = this.worker ?? (await this.starting?.catch(() => undefined));
    if (!worker) return;
    worker.ref();
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.postMessage({ kind: 'close' } satisfies WriterRequest);
    });
  }
}

/** How often the event loop asks whether anything was committed (see `watchCommits`). */
export const COMMIT_WATCH_MS = 1_000;
/** With nothing committed for this long the checkpointer thread ends; the next commit starts it again. */
export const CHECKPOINTER_REST_MS = 10_000;

/**
 * The event loop's side of the SQLite threads. `append` posts a batch to the
 * writer thread and resolves with its seqs once committed; batches are
 * committed in the order they were posted. If the writer dies, everything in
 * flight fails (the event log keeps those batches and retries) and the next
 * append starts a new one. The checkpointer runs beside it while there are
 * commits to copy back (see `watchCommits`) and is restarted if it dies.
 */
export class SqliteWriterThread {
  private readonly logger = new Logger('SqliteDatabase');
  private readonly writer: SqliteWorker;
  private readonly checkpointer: SqliteWorker;
  /**
   * A connection of its own that only reads `data_version`, which moves
   * whenever another connection commits: how the event loop knows that the
   * WAL has something for the checkpointer, whichever connection wrote it.
   */
  private readonly watch: BetterSqlite3.Database;
  private readonly watchTimer: NodeJS.Timeout;
  private dataVersion: number;
  private quietSince = Date.now();
  /** The checkpointer is being stopped for want of work: its exit is no failure. */
  private resting: Promise<void> | undefined;
  private nextId = 1;
  /** Requests not yet settled, counted from the call (one may wait for the thread to start). */
  private pending = 0;
  private readonly inFlight = new Map<
    number,
    { resolve: (reply: WriterReply) => void; reject: (error: Error) => void }
  >();
  private closed = false;
  private restartingWal = false;
  /** The generation of the appends posted now: a new one starts when one fails. */
  private generation = 0;
  /** WAL restarts done so far. */
  walRestarts = 0;
  /** Told of each batch the thread committed, with the time its transaction took there. */
  onCommit: CommitObserver | undefined;
  /**
   * Ref'd while work is in flight, so that the process waits for it: a timer
   * that is never due, whose ref()/unref() is a counter, rather than the
   * worker's own (which also touches its message port), once per batch.
   */
  private readonly keepAlive = setTimeout(() => undefined, 2 ** 31 - 1).unref();

  private constructor(
    path: string,
    restartWalPages: number,
    cacheKiB: number | undefined,
    private readonly restMs: number,
    watchMs: number,
  ) {
    this.writer = new SqliteWorker(
      { path, role: 'writer', restartWalPages, cacheKiB },
      (reply) => this.settle(reply),
      (error) => {
        for (const request of this.inFlight.values()) request.reject(error);
        this.inFlight.clear();
        this.keepAlive.unref();
      },
    );
    this.checkpointer = new SqliteWorker(
      { path, role: 'checkpointer', restartWalPages, cacheKiB },
      (reply) => {
        if (reply.walFull) this.restartWal();
        else this.logger.warn(`checkpoint failed, retrying: ${reply.error}`);
      },
      (error) => {
        if (this.closed || this.resting) return;
        this.logger.error(`${error.message}; starting it again`);
        this.checkpointer.spawn().catch(() => undefined);
      },
    );
    this.watch = openSqlite(path, { autoCheckpoint: false, cacheKiB: 64 });
    this.watch.pragma('query_only = ON');
    this.dataVersion = this.readDataVersion();
    this.watchTimer = setInterval(() => this.watchCommits(), watchMs).unref();
  }

  private readDataVersion(): number {
    return this.watch.pragma('data_version', { simple: true }) as number;
  }

  /**
   * The checkpointer runs while there are commits to copy back: an idle
   * api keeps no thread (about 11 MiB) for it. Stopped, it first copies
   * what the WAL holds (its `close`); a commit after the version read here
   * moves the version, and the next look starts the thread again.
   */
  private watchCommits(): void {
    if (this.closed || this.resting) return;
    const version = this.readDataVersion();
    const now = Date.now();
    if (version !== this.dataVersion) {
      this.dataVersion = version;
      this.quietSince = now;
      if (!this.checkpointer.current) this.checkpointer.spawn().catch(() => undefined);
    } else if (this.checkpointer.current && now - this.quietSince >= this.restMs) {
      this.resting = this.checkpointer.close().finally(() => (this.resting = undefined));
    }
  }

  /** Whether the checkpointer's thread is running. */
  get checkpointerStarted(): boolean {
    return this.checkpointer.current !== undefined;
  }

  static async start(
    path: string,
    restartWalPages = RESTART_WAL_PAGES,
    options: { lazyWriter?: boolean; cacheKiB?: number; restMs?: number; watchMs?: number } = {},
  ): Promise<SqliteWriterThread> {
    const thread = new SqliteWriterThread(
      path,
      restartWalPages,
      options.cacheKiB,
      options.restMs ?? CHECKPOINTER_REST_MS,
      options.watchMs ?? COMMIT_WATCH_MS,
    );
    // A lazy writer starts with the first batch too large to commit inline (or the first prune): an idle
    // api, or one at a few thousand messages a second, never needs it, and a thread is about 10 MiB.
    await Promise.all([options.lazyWriter ? undefined : thread.writer.spawn(), thread.checkpointer.spawn()]);
    return thread;
  }

  /** Whether the writer's own thread is running. */
  get writerStarted(): boolean {
    return this.writer.current !== undefined;
  }

  /** Whether everything posted so far is done (or failed). */
  get idle(): boolean {
    return this.pending === 0;
  }

  /**
   * Commits a batch after those posted before it. Once one fails, the writer
   * refuses the batches posted behind it until this side learns of the
   * failure (a new generation), so the caller can give them all again, in
   * order, and no batch is stored ahead of an earlier one.
   */
  async append(events: NewEvent[]): Promise<Float64Array> {
    const batch = encodeBatch(events);
    const generation = this.generation;
    let reply: WriterReply;
    try {
      reply = await this.request(
        (id) => ({ kind: 'append', id, batch, generation }),
        [batch.ts.buffer, batch.kinds.buffer],
      );
    } catch (error) {
      if (this.generation === generation) this.generation++;
      throw error;
    }
    if (!reply.seqs) throw new Error('the SQLite writer sent no seqs');
    if (reply.commitSeconds !== undefined) this.onCommit?.(events.length, reply.commitSeconds);
    return reply.seqs;
  }

  /**
   * One retention step, run between ingest batches: deletes there never
   * wait for the write lock on the event loop, and ingest never waits
   * behind a delete that waits for a checkpoint.
   */
  async prune(step: PruneRequest): Promise<PruneResult> {
    const reply = await this.request((id) => ({ kind: 'prune', id, ...step }));
    if (!reply.pruned) throw new Error('the SQLite writer sent no prune result');
    return reply.pruned;
  }

  /**
   * A restart holds the write lock while it copies the rest of the WAL and
   * syncs the database. Run by the writer between two batches, it makes the
   * batches behind it wait in order and start the moment it ends; run beside
   * the writer, it made a commit sleep in SQLite's busy handler (1, 2, 5,
   * 10 ms… steps), about twice as long as the restart itself. While it is
   * queued or running, the event loop commits nothing itself (see `idle`).
   */
  private restartWal(): void {
    if (this.restartingWal || this.closed) return;
    this.restartingWal = true;
    this.request((id) => ({ kind: 'restart-wal', id }))
      .then(
        () => this.walRestarts++,
        (error: Error) => this.logger.warn(`restarting the WAL failed: ${error.message}`),
      )
      .finally(() => (this.restartingWal = false));
  }

  private async request(message: (id: number) => WriterRequest, transfer: ArrayBuffer[] = []): Promise<WriterReply> {
    if (this.closed) throw new Error('the SQLite writer is closed');
    this.pending++;
    try {
      const worker = this.writer.current ?? (await this.writer.spawn());
      const id = this.nextId++;
      // Work in flight keeps the process alive until it is done.
      this.keepAlive.ref();
      return await new Promise((resolve, reject) => {
        this.inFlight.set(id, { resolve, reject });
        worker.postMessage(message(id), transfer);
      });
    } finally {
      this.pending--;
    }
  }

  /** Lets the threads finish what they were given, then closes their connections. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchTimer);
    await this.resting;
    await Promise.all([this.writer.close(), this.checkpointer.close()]);
    this.watch.close();
    clearTimeout(this.keepAlive);
  }

  private settle(reply: WriterReply): void {
    const request = this.inFlight.get(reply.id);
    this.inFlight.delete(reply.id);
    if (this.inFlight.size === 0) this.keepAlive.unref();
    if (reply.error === undefined) request?.resolve(reply);
    else request?.reject(new Error(reply.error));
  }
}
