import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ClusterChannel } from '../../domain/cluster';
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
 * Puts committed events on the bus (`committed`), every one once and in seq
 * order. With one api process that is each batch as this process commits
 * it. When replicas share the database (PostgreSQL), the log also grows by
 * other replicas' batches: each replica then reads the log after the last
 * seq it has put on the bus, when told that the log has grown (NOTIFY) and
 * once a second, so its SSE clients get every replica's events in order. A
 * batch of its own that follows the last seq it put on the bus goes out at
 * once, unread. Seqs become visible in the order they were issued (the
 * store's contract), so reading after the last one never skips an event.
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
    this.failures.close();
    await this.reading;
  }

  /** A batch this process committed, each event's receive time beside it. */
  committed(stored: StoredEvent[], receivedAt: number[]): void {
    if (!this.cluster.shared) {
      this.bus.emit('committed', stored, receivedAt);
      return;
    }
    if (stored.length === 0) return;
    this.cluster.appended();
    if (this.reading === undefined && stored[0].seq === this.last + 1) {
      this.last = stored[stored.length - 1].seq;
      this.bus.emit('committed', stored, receivedAt);
      return;
    }
    // Another replica's events came in between (or a read is under way): read them all in order.
    this.catchUp();
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
      }
    });
  }

  private async read(): Promise<void> {
    try {
      for (;;) {
        const page = await this.events.eventsAfter(this.last, {}, PAGE_EVENTS, PAGE_BYTES);
        if (page.length === 0) return;
        this.last = page[page.length - 1].seq;
        // Their receive times are the other replica's: none here.
        this.bus.emit('committed', page, []);
      }
    } catch (error) {
      // Retried at the next notification or poll.
      this.failures.log('read', {}, `reading the event log failed: ${(error as Error).message}`);
    }
  }
}
