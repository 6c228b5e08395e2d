import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { NewEvent } from './storage';

export interface WriterData {
  path: string;
}

export type WriterRequest = { kind: 'append'; id: number; events: NewEvent[] } | { kind: 'close' };

export interface WriterReply {
  id: number;
  ready?: true;
  seqs?: Float64Array;
  error?: string;
}

/**
 * Where the worker's code is: beside the bundle when built (webpack emits it
 * as its own entry), else the TypeScript source, loaded through the same
 * register hook the api's scripts and tests run under.
 */
function workerEntry(): { file: string; execArgv: string[]; env?: NodeJS.ProcessEnv } {
  const built = join(__dirname, 'sqlite-writer.js');
  if (existsSync(built)) return { file: built, execArgv: [] };
  return {
    file: join(__dirname, 'sqlite-writer.worker.ts'),
    execArgv: ['--require', '@swc-node/register'],
    env: { ...process.env, SWC_NODE_PROJECT: join(__dirname, '../../tsconfig.app.json') },
  };
}

/**
 * The event loop's side of the SQLite writer thread: `append` posts a batch
 * and resolves with its seqs once committed. Batches are committed in the
 * order they were posted. If the thread dies, everything in flight fails
 * (the event log keeps those batches and retries) and the next append starts
 * a new thread.
 */
export class SqliteWriterThread {
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;
  private nextId = 1;
  private readonly inFlight = new Map<
    number,
    { resolve: (seqs: Float64Array) => void; reject: (error: Error) => void }
  >();
  private closed = false;

  private constructor(private readonly path: string) {}

  static async start(path: string): Promise<SqliteWriterThread> {
    const thread = new SqliteWriterThread(path);
    await thread.spawn();
    return thread;
  }

  async append(events: NewEvent[]): Promise<Float64Array> {
    if (this.closed) throw new Error('the SQLite writer is closed');
    const worker = this.worker ?? (await this.spawn());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.inFlight.set(id, { resolve, reject });
      worker.postMessage({ kind: 'append', id, events } satisfies WriterRequest);
    });
  }

  /** Lets the thread finish what it was given, then closes its connection. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker ?? (await this.starting?.catch(() => undefined));
    if (!worker) return;
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.postMessage({ kind: 'close' } satisfies WriterRequest);
    });
  }

  private spawn(): Promise<Worker> {
    this.starting ??= new Promise<Worker>((resolve, reject) => {
      const { file, execArgv, env } = workerEntry();
      const worker = new Worker(file, { workerData: { path: this.path } satisfies WriterData, execArgv, env });
      worker.on('message', (reply: WriterReply) => {
        if (reply.ready) {
          this.worker = worker;
          this.starting = undefined;
          resolve(worker);
          return;
        }
        const request = this.inFlight.get(reply.id);
        this.inFlight.delete(reply.id);
        if (reply.seqs) request?.resolve(reply.seqs);
        else request?.reject(new Error(reply.error ?? 'the SQLite writer failed'));
      });
      const fail = (error: Error) => {
        if (this.worker === worker) this.worker = undefined;
        this.starting = undefined;
        reject(error);
        for (const request of this.inFlight.values()) request.reject(error);
        this.inFlight.clear();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`the SQLite writer thread exited (${code})`)));
    });
    return this.starting;
  }
}
