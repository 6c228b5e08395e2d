import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service';
import { type NewEvent, Storage, type StoredEvent } from '../storage/storage';

/** Called with each committed batch, in log order, with each event's receive time. */
export type CommitListener = (events: StoredEvent[], receivedAt: number[]) => void;

/** Events waiting past this many are refused rather than held without bound. */
const MAX_QUEUED = 200_000;
/**
 * Above this many waiting events the log is congested: devices are asked to
 * wait (see `backpressure` in the broker) until it is back under LOW_WATER.
 * The gap to MAX_QUEUED absorbs what devices had already sent.
 */
const HIGH_WATER = 20_000;
const LOW_WATER = 5_000;
/**
 * Events per transaction at most: large enough to amortise the commit, small
 * enough that one batch's frames do not look like a slow client's backlog.
 */
const MAX_BATCH = 5_000;
const RETRY_MS = 500;
/**
 * Commits start at most this often. At moderate rates (a few thousand events
 * a second) batches would otherwise stay at one or two events, and each commit
 * costs a round trip to the writer thread, WAL pages and one socket write per
 * SSE client; measured at 2,000 msg/s to 50 streams this cut the api's CPU by
 * about a quarter. An event after a quiet spell is committed at once.
 */
const MIN_COMMIT_INTERVAL_MS = 2;

/**
 * Group commit for the event log. Events queue up while the previous batch
 * is being written; each flush writes everything queued in one transaction
 * and then hands the batch, numbered, to the listeners (the SSE hub). At low
 * rates a batch is one event and adds no wait; at high rates batches grow by
 * themselves, so the cost per event falls as load rises.
 */
@Injectable()
export class EventLog implements OnApplicationShutdown {
  private readonly logger = new Logger(EventLog.name);
  private queue: NewEvent[] = [];
  private receivedAt: number[] = [];
  private scheduled = false;
  private flushing: Promise<void> | undefined;
  private readonly listeners: CommitListener[] = [];
  private idle: Array<() => void> = [];
  private drainWaiters: Array<() => void> = [];
  private isCongested = false;

  constructor(
    private readonly storage: Storage,
    private readonly metrics: MetricsService,
  ) {}

  onCommit(listener: CommitListener): void {
    this.listeners.push(listener);
  }

  /** Whether `count` more events fit in the queue: a message is taken whole or not at all. */
  hasRoom(count: number): boolean {
    return this.queue.length + count <= MAX_QUEUED;
  }

  /** Queues an event; false when the log is too far behind to take it. */
  append(event: NewEvent, receivedAt: number): boolean {
    if (this.queue.length >= MAX_QUEUED) return false;
    this.queue.push(event);
    this.receivedAt.push(receivedAt);
    if (!this.isCongested && this.queue.length >= HIGH_WATER) {
      this.isCongested = true;
      this.metrics.ingestCongested.inc();
    }
    this.schedule();
    return true;
  }

  /** Whether the queue is past its high-water mark and producers should wait. */
  get congested(): boolean {
    return this.isCongested;
  }

  /** Resolves once the queue is back under its low-water mark. */
  drained(): Promise<void> {
    if (!this.isCongested) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Resolves once everything queued so far is committed and published. */
  settled(): Promise<void> {
    if (this.queue.length === 0 && !this.flushing) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private lastCommit = -Infinity;

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    const delayMs = MIN_COMMIT_INTERVAL_MS - (performance.now() - this.lastCommit);
    const run = () => {
      this.scheduled = false;
      this.lastCommit = performance.now();
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        if (this.isCongested && this.queue.length <= LOW_WATER) {
          this.isCongested = false;
          for (const resolve of this.drainWaiters.splice(0)) resolve();
        }
        if (this.queue.length > 0) this.schedule();
        else for (const resolve of this.idle.splice(0)) resolve();
      });
    };
    if (delayMs > 0) setTimeout(run, delayMs);
    else setImmediate(run);
  }

  private async flush(): Promise<void> {
    const batch = this.queue.length <= MAX_BATCH ? this.queue : this.queue.slice(0, MAX_BATCH);
    const receivedAt = this.receivedAt.slice(0, batch.length);
    this.queue = batch === this.queue ? [] : this.queue.slice(MAX_BATCH);
    this.receivedAt = this.receivedAt.slice(batch.length);
    let stored: StoredEvent[];
    try {
      stored = await this.storage.append(batch);
    } catch (error) {
      // Keep the batch, in order, ahead of anything queued since, and try again.
      this.logger.error(`storing ${batch.length} events failed, retrying: ${String(error)}`);
      this.metrics.storageErrors.inc();
      this.queue = batch.concat(this.queue);
      this.receivedAt = receivedAt.concat(this.receivedAt);
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      return;
    }
    this.metrics.eventsStored.inc(stored.length);
    const times = stored.length === batch.length ? receivedAt : receiveTimes(batch, receivedAt, stored);
    for (const listener of this.listeners) {
      try {
        listener(stored, times);
      } catch (error) {
        this.logger.error(`commit listener failed: ${String(error)}`);
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.settled();
  }
}

/**
 * The receive times of the events that were stored, when some were not (their
 * device was deleted meanwhile): the stored events are the batch's in order,
 * each carrying the same `data` string.
 */
function receiveTimes(batch: NewEvent[], receivedAt: number[], stored: StoredEvent[]): number[] {
  const times: number[] = [];
  let j = 0;
  for (const event of stored) {
    while (j < batch.length && batch[j].data !== event.data) j++;
    times.push(receivedAt[j++]);
  }
  return times;
}
