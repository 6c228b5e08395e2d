import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { DeviceEventName } from '@iot/protocol';
import type { EventBounds, EventFilter, EventRepository, NewEvent, StoredEvent } from '../domain/events';
import type { Database } from './schema';
import { NOT_STORED, type SqliteEventWriter } from './sqlite-event-writer';
import type { SqliteWriterThread } from './sqlite-writer-thread';

/**
 * Batches up to this size are committed on the event loop's own connection
 * (at most about 2 ms of work), larger ones by the writer thread. A small
 * commit costs less than the round trip to the thread, and under CPU
 * contention that round trip's tail (a thread waiting to be scheduled, twice)
 * was most of the api's p99 latency at moderate rates. At high rates batches
 * grow past this and the inserts move off the event loop.
 */
export const INLINE_MAX_EVENTS = 64;

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * The event log on SQLite. The ingest path (`append`) is one transaction of
 * prepared statements per batch (SqliteEventWriter). Large batches are
 * committed by a writer thread on its own connection, so that inserts and
 * commits do not hold up the event loop; small ones on the event loop's
 * connection (see INLINE_MAX_EVENTS).
 */
export class SqliteEventLog implements EventRepository {
  private readonly lastSeq: BetterSqlite3.Statement<[], { seq: number }>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly sqlite: BetterSqlite3.Database,
    readonly epoch: string,
    /** Commits ingest batches on the event loop: on the store's connection in memory, on one of its own in a file. */
    private readonly localWriter: SqliteEventWriter,
    /** Commits large ingest batches on its own connection, when the database is a file. */
    private readonly writerThread: SqliteWriterThread | undefined,
  ) {
    this.lastSeq = sqlite.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
  }

  async append(events: NewEvent[]): Promise<StoredEvent[]> {
    const seqs = await this.commit(events);
    const stored: StoredEvent[] = [];
    for (let i = 0; i < events.length; i++) {
      if (seqs[i] === NOT_STORED) continue;
      const { type, deviceId, data } = events[i];
      stored.push({ seq: seqs[i], type, deviceId, data });
    }
    return stored;
  }

  /**
   * Batches commit in the order they are given: on the event loop only while
   * the thread has none in flight. The event loop never waits for a lock (a
   * checkpoint restarting the WAL holds the write lock for a few
   * milliseconds): a batch that finds it taken goes to the thread, which waits.
   */
  private async commit(events: NewEvent[]): Promise<ArrayLike<number>> {
    const thread = this.writerThread;
    if (thread === undefined) return this.localWriter.append(events);
    if (events.length <= INLINE_MAX_EVENTS && thread.idle) {
      try {
        return this.localWriter.append(events);
      } catch (error) {
        if (!isBusy(error)) throw error;
      }
    }
    return thread.append(events);
  }

  async eventsAfter(seq: number, filter: EventFilter, limit: number, maxBytes = Infinity): Promise<StoredEvent[]> {
    let query = this.db
      .selectFrom('events')
      .select(['seq', 'type', 'device_id', 'data'])
      .where('seq', '>', seq)
      .orderBy('seq')
      .limit(limit);
    if (filter.deviceIds) query = query.where('device_id', 'in', [...filter.deviceIds]);
    if (filter.types) query = query.where('type', 'in', [...filter.types]);
    // Rows are stepped one at a time, so a page of large events stops at the budget instead of loading `limit` of them.
    const { sql, parameters } = query.compile();
    const rows = this.sqlite
      .prepare<unknown[], { seq: number; type: string; device_id: string; data: string }>(sql)
      .iterate(...parameters);
    const page: StoredEvent[] = [];
    let bytes = 0;
    for (const r of rows) {
      page.push({ seq: r.seq, type: r.type as DeviceEventName, deviceId: r.device_id, data: r.data });
      bytes += r.data.length;
      if (bytes >= maxBytes) break;
    }
    return page;
  }

  async bounds(): Promise<EventBounds> {
    const row = await this.db
      .selectFrom('meta')
      .select('value')
      .where('key', '=', 'events_pruned_through')
      .executeTakeFirst();
    return { prunedThrough: row ? Number(row.value) : 0, last: this.lastSeq.get()?.seq ?? 0 };
  }

  async prune(before: number, batch: number): Promise<number> {
    // Seqs are in commit order and `ts` is the commit time, so the prunable
    // events are a prefix of the log: read it, never scan the whole table.
    const head = this.sqlite
      .prepare<[number], { seq: number; ts: number }>('SELECT seq, ts FROM events ORDER BY seq LIMIT ?')
      .all(batch);
    const row = { upto: null as number | null, n: 0 };
    for (const event of head) {
      if (event.ts >= before) break;
      row.upto = event.seq;
      row.n++;
    }
    if (row.upto === null) return 0;
    const upto = row.upto;
    this.sqlite
      .transaction(() => {
        this.sqlite.prepare('DELETE FROM events WHERE seq <= ?').run(upto);
        this.sqlite
          .prepare(
            "INSERT INTO meta (key, value) VALUES ('events_pruned_through', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
          )
          .run(String(upto));
      })
      .immediate();
    return row.n;
  }
}
