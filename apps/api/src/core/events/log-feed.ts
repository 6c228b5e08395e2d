import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { type AppendedBatch, ClusterChannel } from '../../domain/cluster';
import { EventRepository, type StoredEvent } from '../../domain/events';
import { RateLimitedLog } from '../../platform/logging/rate-limited-log';
import { EventBus } from './event-bus';

/** Events per read when catching up with what other replicas committed. */
const PAGE_EVENTS = 1_000;
const PAGE_BYTES = 4 * 1024 * 1024;
/**
 * How often a replica reads the log without being told to: a notification
 * lost with its connection then delays events by this much, it loses none.
 */
const POLL_MS = 1_000;
/**
 * How long a batch that does not follow the last seq on the bus waits for
 * the announcements of the batches before it, after which the log is read.
 * Announcements come in commit order, so a gap is normally filled within a
 * round trip; it lasts only when one was lost or too large to carry events.
 */
const GAP_MS = 20;
/** Events held for a gap at most; past this the log is read at once. */
const MAX_HELD_EVENTS = 10_000;

/** A batch waiting for the ones before it. */
interface Held {
  events: StoredEvent[];
  receivedAt: number[];
}

/**
 * Puts committed events on the bus (`committed`), every one once and in seq
 * order. With one api process that is each batch as this process commits
 * it. When replicas share the database (PostgreSQL), the log also grows by
 * other replicas' batches, which the store announces to every replica at
 * their commit, in commit order, with their events when they fit. A batch,
 * this replica's or announced, goes on the bus at once when it follows the
 * last seq there; one that does not is held until the ones before it have
 * come. The log itself is read after the last seq on the bus when an
 * announcement carries no events, when a gap lasts GAP_MS, and once a
 * second. Seqs become visible in the order they were issued (the store's
 * contract), so reading after the last one never skips an event.
 */
@Injectable()
export class LogFeed implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LogFeed.name);
  private readonly failures = new RateLimitedLog('reading the event log', (fields, message) =>
    this.logger.warn(fields, message),
  );
  /** Every event up to this seq is on the bus. */
  private last = 0;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private poll: NodeJS.Timeout | undefined;
  /** Batches past a gap, by the seq each follows. */
  private readonly held = new Map<number, Held>();
  private heldEvents = 0;
  private gap: NodeJS.Timeout | undefined;
  private readFailed = false;

  constructor(
    private readonly events: EventRepository,
    private readonly bus: EventBus,
    private readonly cluster: ClusterChannel,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.cluster.shared) return;
    this.last = (await this.events.bounds()).last;
    this.poll = setInterval(() => this.catchUp(), POLL_MS);
    this.poll.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.poll);
    clearTimeout(this.gap);
    this.gap = undefined;
    this.failures.close();
    await this.reading;
  }

  /** A batch this process committed, each event's receive time beside it. */
  committed(stored: StoredEvent[], receivedAt: number[]): void {
    if (!this.cluster.shared) {
      this.bus.emit('committed', stored, receivedAt);
      return;
    }
    if (stored.length > 0) this.offer(stored[0].seq - 1, { events: stored, receivedAt });
  }

  /** A batch appended by any replica, as announced; without its events, the log is read. */
  appended(batch?: AppendedBatch): void {
    if (batch === undefined || batch.events.length === 0) {
      this.catchUp();
      return;
    }
    // Their receive times are the other replica's: none here.
    this.offer(batch.after, { events: batch.events, receivedAt: [] });
  }

  /** Reads what the log holds after the last seq on the bus and puts it there; one read at a time. */
  catchUp(): void {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.read().finally(() => {
      this.reading = undefined;
      if (this.readAgain) {
        this.readAgain = false;
        this.catchUp();
      } else {
        this.release();
      }
    });
  }

  /** A batch whose events follow seq `after`, one seq each. */
  private offer(after: number, batch: Held): void {
    if (after + batch.events.length <= this.last) return;
    if (this.reading === undefined && after <= this.last) {
      this.emit(after, batch);
      this.release();
      return;
    }
    if (this.heldEvents + batch.events.length > MAX_HELD_EVENTS) {
      // It is stored: the read brings it.
      this.catchUp();
      return;
    }
    if (!this.held.has(after)) {
      this.held.set(after, batch);
      this.heldEvents += batch.events.length;
    }
    if (this.reading === undefined) this.armGap();
  }

  /** Puts the held batches that now follow the last seq on the bus, and drops those that are there already. */
  private release(): void {
    for (let overtaken = true; overtaken; ) {
      for (let next = this.held.get(this.last); next !== undefined; next = this.held.get(this.last)) {
        this.drop(this.last, next);
        this.emit(this.last, next);
      }
      // A read may have put part or all of a held batch on the bus.
      overtaken = false;
      for (const [after, batch] of this.held) {
        if (after >= this.last) continue;
        this.drop(after, batch);
        if (after + batch.events.length > this.last) {
          this.emit(after, batch);
          overtaken = true;
          break;
        }
      }
    }
    if (this.held.size === 0) {
      clearTimeout(this.gap);
      this.gap = undefined;
    } else if (!this.readFailed) {
      this.armGap();
    }
  }

  private drop(after: number, batch: Held): void {
    this.held.delete(after);
    this.heldEvents -= batch.events.length;
  }

  /** Emits the part of a batch past the last seq on the bus (it follows `after` ≤ last). */
  private emit(after: number, { events, receivedAt }: Held): void {
    const skip = this.last - after;
    const fresh = skip === 0 ? events : events.slice(skip);
    const times = skip === 0 || receivedAt.length === 0 ? receivedAt : receivedAt.slice(skip);
    this.last = after + events.length;
    this.bus.emit('committed', fresh, times);
  }

  private armGap(): void {
    if (this.gap) return;
    this.gap = setTimeout(() => {
      this.gap = undefined;
      this.catchUp();
    }, GAP_MS);
    this.gap.unref();
  }

  private async read(): Promise<void> {
    this.readFailed = false;
    try {
      for (;;) {
        const page = await this.events.eventsAfter(this.last, {}, PAGE_EVENTS, PAGE_BYTES);
        if (page.length === 0) return;
        this.last = page[page.length - 1].seq;
        // Their receive times are the other replica's: none here.
        this.bus.emit('committed', page, []);
      }
    } catch (error) {
      // Retried at the next announcement or poll (not at once for a gap: the store is likely down).
      this.readFailed = true;
      this.failures.log('read', {}, `reading the event log failed: ${(error as Error).message}`);
    }
  }
}
