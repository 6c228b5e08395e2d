import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { MetricsService } from '../../platform/metrics/metrics.service';
import {
  type EventBounds,
  type EventFilter,
  EventRepository,
  type NewEvent,
  type StoredEvent,
} from '../../domain/events';
import { LogFeed } from './log-feed';

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
 * Batches given to storage and not yet settled, at most. With two, the writer
 * thread has the next batch waiting when it finishes one, instead of idling
 * until the event loop has taken its reply and sent more: about 5% more
 * throughput measured on two cores (docs/performance.md).
 */
const MAX_IN_FLIGHT = 2;

/** A batch given to storage: which appended events it holds (see `EventLog.appended`). */
interface Batch {
  /** The lowest sequence number in it. */
  min: number;
  /** Its numbers when they are not `first`, `first + 1`, … (it holds events put back after a failure). */
  seqs: number[] | undefined;
  first: number;
  count: number;
}

/**
 * Group commit for the event log. Events queue up while the batches before
 * them are being written; each flush writes everything queued in one
 * transaction and then, after the batch before it, hands the batch, numbered,
 * to the LogFeed, which puts it on the bus (`committed`: the SSE hub
 * listens). At low rates a batch is one event and adds
 * no wait; at high rates batches grow by themselves, so the cost per event
 * falls as load rises.
 */
@Injectable()
export class EventLog implements OnApplicationShutdown {
  private readonly logger = new Logger(EventLog.name);
  private queue: NewEvent[] = [];
  private receivedAt: number[] = [];
  private scheduled = false;
  private inFlight = 0;
  /** The last flush: each emits its batch only after the one before it. */
  private tail: Promise<void> = Promise.resolve();
  /** Where a failed batch goes back in the queue: behind those that failed before it, ahead of all else. */
  private requeueAt = 0;
  /** Set for RETRY_MS after a failure: nothing new is given to storage meanwhile. */
  private pausedForRetry = false;
  private idle: Array<() => void> = [];
  private drainWaiters: Array<() => void> = [];
  private isCongested = false;
  /**
   * Appended events are numbered 1, 2, … in memory (not the stored seq). The
   * queue's entries past `requeuedSeqs.length` have consecutive numbers ending
   * at `appended`; the ones before (put back after a failure) are listed.
   */
  private appended = 0;
  private requeuedSeqs: number[] = [];
  private readonly writing = new Set<Batch>();
  /** Every event numbered up to this is committed. */
  private committed = 0;
  /** `afterCommit` callbacks and the number each waits for, ascending (numbers only grow). */
  private waiterSeqs: number[] = [];
  private waiterCallbacks: Array<() => void> = [];

  constructor(
    private readonly events: EventRepository,
    private readonly metrics: MetricsService,
    private readonly feed: LogFeed,
  ) {}

  /** The stored log's id, part of every event id: a reader's position is good only in the same epoch. */
  get epoch(): string {
    return this.events.epoch;
  }

  /** The stored log's bounds: events with seq ≤ `prunedThrough` are gone; `last` is the newest seq. */
  bounds(): Promise<EventBounds> {
    return this.events.bounds();
  }

  /** Stored events after `seq`, in order, at most `limit` (and about `maxBytes` of data): a replay's page. */
  eventsAfter(seq: number, filter: EventFilter, limit: number, maxBytes?: number): Promise<StoredEvent[]> {
    return this.events.eventsAfter(seq, filter, limit, maxBytes);
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
    this.appended++;
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
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * Calls `done` once every event appended so far is committed (at once when
   * it is). A failed commit is retried, and `done` waits for the retry. Cheap
   * enough for every QoS 1 message: two array pushes, no promise.
   */
  afterCommit(done: () => void): void {
    if (this.committed >= this.appended) {
      done();
      return;
    }
    this.waiterSeqs.push(this.appended);
    this.waiterCallbacks.push(done);
  }

  private lastCommit = -Infinity;

  private schedule(): void {
    if (this.scheduled || this.pausedForRetry || this.inFlight >= MAX_IN_FLIGHT) return;
    this.scheduled = true;
    const delayMs = MIN_COMMIT_INTERVAL_MS - (performance.now() - this.lastCommit);
    if (delayMs > 0) setTimeout(() => this.flush(), delayMs);
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pausedForRetry) return; // a failure since this was scheduled: the retry wait schedules again
    this.lastCommit = performance.now();
    const count = Math.min(this.queue.length, MAX_BATCH);
    const numbers = this.take(count);
    const batch = count === this.queue.length ? this.queue : this.queue.slice(0, count);
    const receivedAt = this.receivedAt.slice(0, count);
    this.queue = batch === this.queue ? [] : this.queue.slice(count);
    this.receivedAt = this.receivedAt.slice(count);
    this.requeueAt = 0;
    this.inFlight++;
    const outcome = this.events.append(batch).then(
      (stored) => ({ stored }),
      (error: unknown) => ({ error }),
    );
    this.tail = this.publish(batch, receivedAt, outcome, this.tail, numbers).finally(() => {
      this.inFlight--;
      this.writing.delete(numbers);
      this.advance();
      if (this.isCongested && this.queue.length <= LOW_WATER) {
        this.isCongested = false;
        for (const resolve of this.drainWaiters.splice(0)) resolve();
      }
      if (this.queue.length > 0) this.schedule();
      else if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
    });
    // With room for another batch, start gathering it now.
    if (this.queue.length > 0) this.schedule();
  }

  /** Once the batch before it is done: emits a stored batch, or puts a failed one back. */
  private async publish(
    batch: NewEvent[],
    receivedAt: number[],
    outcome: Promise<{ stored: StoredEvent[] } | { error: unknown }>,
    previous: Promise<void>,
    numbers: Batch,
  ): Promise<void> {
    await previous;
    const result = await outcome;
    if ('error' in result) {
      // Back in order, ahead of anything queued since (storage failed the batches given after it too), and retried.
      this.logger.error(`storing ${batch.length} events failed, retrying: ${String(result.error)}`);
      this.metrics.storageErrors.inc();
      const at = this.requeueAt;
      this.queue = this.queue.slice(0, at).concat(batch, this.queue.slice(at));
      this.receivedAt = this.receivedAt.slice(0, at).concat(receivedAt, this.receivedAt.slice(at));
      this.requeuedSeqs.splice(at, 0, ...(numbers.seqs ?? consecutive(numbers.first, numbers.count)));
      this.requeueAt += batch.length;
      if (!this.pausedForRetry) {
        this.pausedForRetry = true;
        setTimeout(() => {
          this.pausedForRetry = false;
          this.schedule();
        }, RETRY_MS);
      }
      return;
    }
    const { stored } = result;
    this.metrics.eventsStored.inc(stored.length);
    const times = stored.length === batch.length ? receivedAt : receiveTimes(batch, receivedAt, stored);
    this.feed.committed(stored, times);
  }

  /** Takes the numbers of the first `count` queued events for a batch (before the queue itself is cut). */
  private take(count: number): Batch {
    const first = this.appended - (this.queue.length - this.requeuedSeqs.length) + 1;
    let batch: Batch;
    if (this.requeuedSeqs.length === 0) {
      batch = { min: first, seqs: undefined, first, count };
    } else {
      const taken = Math.min(count, this.requeuedSeqs.length);
      const seqs = this.requeuedSeqs.splice(0, taken).concat(consecutive(first, count - taken));
      batch = { min: Math.min(...seqs), seqs, first, count };
    }
    this.writing.add(batch);
    return batch;
  }

  /** Moves the committed mark up to just below the lowest event not yet committed, and wakes who waited for it. */
  private advance(): void {
    let lowest = this.appended + 1;
    for (const batch of this.writing) if (batch.min < lowest) lowest = batch.min;
    for (const seq of this.requeuedSeqs) if (seq < lowest) lowest = seq;
    const fresh = this.queue.length - this.requeuedSeqs.length;
    if (fresh > 0) lowest = Math.min(lowest, this.appended - fresh + 1);
    if (lowest - 1 <= this.committed) return;
    this.committed = lowest - 1;
    let ready = 0;
    while (ready < this.waiterSeqs.length && this.waiterSeqs[ready] <= this.committed) ready++;
    if (ready === 0) return;
    const callbacks = this.waiterCallbacks.splice(0, ready);
    this.waiterSeqs.splice(0, ready);
    for (const done of callbacks) {
      try {
        done();
      } catch (error) {
        this.logger.error(`commit waiter failed: ${String(error)}`);
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.settled();
  }
}

function consecutive(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
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
