import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { DeviceEventName } from '@iot/protocol';
import {
  type EventBounds,
  type EventFilter,
  type EventRepository,
  type NewEvent,
  type StoredEvent,
  valuesJsonOf,
} from '../../domain/events';
import { type PgTelemetry, type TelemetryRow, textArray } from './pg-telemetry';

/** The advisory lock every replica's append holds: seqs become visible in the order they were taken. */
const APPEND_LOCK = 0x696f7431;
/** Rows read per round trip by `eventsAfter` when a byte budget may end the page early. */
const EVENTS_PAGE = 500;

interface EventRow {
  seq: number;
  type: string;
  device_id: string;
  data: string;
}

function toEvent(row: EventRow): StoredEvent {
  return { seq: row.seq, type: row.type as DeviceEventName, deviceId: row.device_id, data: row.data };
}

/** A batch made ready for its statement before its transaction (while the one before it is in flight). */
interface PreparedBatch {
  events: NewEvent[];
  /** The devices of the batch, each once. */
  ids: string[];
  /** The statement's parts after the events: telemetry rows, latest values, rollups, presence. */
  parts: RawBuilder<unknown>[];
  /** Times of the telemetry events, for their partitions. */
  times: number[];
}

/**
 * The event log on PostgreSQL. Each batch is one transaction of three
 * statements: BEGIN, the advisory lock, then one statement that checks the
 * devices, numbers the events, and inserts them with their telemetry rows,
 * latest values, rollups and the devices' presence and last-seen time (one
 * part per table). Everything that does not need the seqs is computed before
 * the transaction, so a batch holds the lock only for the server's work.
 * Batches run one after another in the order given.
 */
export class PgEventLog implements EventRepository {
  /** The last batch given; the next one commits only once it has. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Resolves once the last batch given holds the lock (or has settled): the next one may queue for it. */
  private turn: Promise<void> = Promise.resolve();
  /** Told of each committed batch: its size and how long its transaction took (for metrics). */
  onCommit: ((events: number, seconds: number) => void) | undefined;

  constructor(
    private readonly db: Kysely<unknown>,
    readonly epoch: string,
    private readonly telemetry: PgTelemetry,
  ) {}

  /**
   * A batch given while one before it is in flight runs after it, and fails
   * with it if it fails: none is stored ahead of a failed one. Once the
   * last batch given has failed, the chain starts afresh.
   *
   * The next batch does not wait for this one to commit: once this one holds
   * the lock, it opens its transaction on another connection and queues for
   * the lock, so its statement runs as soon as this one commits, while the
   * api handles this one's outcome. It commits only after this one did.
   */
  append(events: NewEvent[]): Promise<StoredEvent[]> {
    let prepared: PreparedBatch;
    try {
      prepared = this.prepare(events);
    } catch (error) {
      return Promise.reject(error);
    }
    const previous = this.tail;
    const turn = this.turn;
    let locked!: () => void;
    this.turn = new Promise<void>((resolve) => (locked = resolve));
    const run = this.write(prepared, turn, previous, locked);
    this.tail = run;
    run.catch(() => {
      if (this.tail === run) {
        this.tail = Promise.resolve();
        this.turn = Promise.resolve();
      }
    });
    return run;
  }

  /** Resolves once every batch given so far has settled. */
  async settled(): Promise<void> {
    await this.tail.catch(() => undefined);
  }

  /** The statement's parts that need no seq: an event's place in the batch (`n`, from 1) stands for it. */
  private prepare(events: NewEvent[]): PreparedBatch {
    const telemetry: TelemetryRow[] = [];
    const presence = new Map<string, boolean | null>();
    const times: number[] = [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event.type === 'telemetry') {
        times.push(event.ts);
        const json = valuesJsonOf(event.data);
        if (json !== undefined) {
          try {
            telemetry.push({ n: i + 1, deviceId: event.deviceId, ts: event.ts, json, parsed: JSON.parse(json) });
          } catch {
            // Data that is not telemetryEvent's gets no history row (a bug elsewhere must not stop the log).
          }
        }
      }
      presence.set(event.deviceId, event.online ?? presence.get(event.deviceId) ?? null);
    }
    const parts = this.telemetry.prepare(telemetry);
    parts.push(sql`UPDATE devices AS d SET last_seen = GREATEST(COALESCE(d.last_seen, 0), ${sql.raw('(SELECT now FROM clock)')}),
        online = COALESCE(u.online, d.online)
      FROM unnest(${[...presence.keys()]}::text[], ${[...presence.values()]}::boolean[]) AS u(id, online)
      WHERE d.id = u.id`);
    return { events, ids: [...presence.keys()], parts, times };
  }

  private async write(
    batch: PreparedBatch,
    turn: Promise<void>,
    previous: Promise<unknown>,
    locked: () => void,
  ): Promise<StoredEvent[]> {
    const { events } = batch;
    try {
      // Behind the lock of the batch before, so seqs are taken in the order batches were given.
      await turn;
      if (events.length === 0) {
        await previous;
        return [];
      }
      await this.telemetry.ensurePartitions(batch.times);
      return await this.transaction(batch, previous, locked);
    } finally {
      locked();
    }
  }

  private async transaction(
    batch: PreparedBatch,
    previous: Promise<unknown>,
    locked: () => void,
  ): Promise<StoredEvent[]> {
    const { events } = batch;
    const now = Date.now();
    let start = 0;
    const stored = await this.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${APPEND_LOCK})`.execute(trx);
      start = performance.now();
      locked();
      // Events of a device deleted meanwhile are dropped; a delete waits for this batch (FOR KEY SHARE).
      // The kept events take the next seqs in batch order: reserved at once (no other batch holds the lock).
      const { rows } = await sql<{ base: number; kept: number; present: string[] | null }>`WITH
        clock AS (SELECT ${now}::bigint AS now),
        present AS (SELECT id FROM devices WHERE id = ANY(${batch.ids}::text[]) ORDER BY id FOR KEY SHARE),
        numbered AS (SELECT u.n, u.d, u.t, u.x, row_number() OVER (ORDER BY u.n) AS k
          FROM unnest(${textArray(events.map((e) => e.deviceId))}, ${textArray(events.map((e) => e.type))},
            ${textArray(events.map((e) => e.data))}) WITH ORDINALITY AS u(d, t, x, n)
          WHERE u.d IN (SELECT id FROM present)),
        base AS (SELECT setval(pg_get_serial_sequence('events', 'seq'),
            nextval(pg_get_serial_sequence('events', 'seq')) + GREATEST(count(*), 1) - 1) - count(*) AS b FROM numbered),
        inserted AS (INSERT INTO events (seq, device_id, type, data, ts)
          SELECT b.b + e.k, e.d, e.t, e.x, c.now FROM numbered AS e CROSS JOIN base AS b CROSS JOIN clock AS c),
        ${sql.join(
          batch.parts.map((part, i) => sql`${sql.id(`part${i}`)} AS (${part})`),
          sql`,
`,
        )}
        SELECT (SELECT b FROM base) AS base, (SELECT count(*) FROM numbered)::int AS kept,
          CASE WHEN (SELECT count(*) FROM present) < ${batch.ids.length}
            THEN (SELECT array_agg(id) FROM present) END AS present`.execute(trx);
      // Commits only after the batch before it did; rolls back if it failed.
      await previous;
      const { base, kept, present } = rows[0];
      if (kept === 0) return [];
      const exists = present === null ? undefined : new Set(present);
      const stored: StoredEvent[] = new Array(kept);
      let k = 0;
      for (const event of events) {
        if (exists !== undefined && !exists.has(event.deviceId)) continue;
        k++;
        stored[k - 1] = { seq: base + k, type: event.type, deviceId: event.deviceId, data: event.data };
      }
      return stored;
    });
    this.onCommit?.(events.length, (performance.now() - start) / 1000);
    return stored;
  }

  async eventsAfter(seq: number, filter: EventFilter, limit: number, maxBytes = Infinity): Promise<StoredEvent[]> {
    const devices = filter.deviceIds ? sql`AND device_id = ANY(${[...filter.deviceIds]}::text[])` : sql``;
    const types = filter.types ? sql`AND type = ANY(${[...filter.types]}::text[])` : sql``;
    const page: StoredEvent[] = [];
    let bytes = 0;
    let after = seq;
    // With a byte budget, rows are read a slice at a time so a page of large events stops at the budget.
    const slice = maxBytes === Infinity ? limit : Math.min(limit, EVENTS_PAGE);
    while (page.length < limit) {
      const { rows } = await sql<EventRow>`SELECT seq, type, device_id, data FROM events
        WHERE seq > ${after} ${devices} ${types} ORDER BY seq LIMIT ${Math.min(slice, limit - page.length)}`.execute(
        this.db,
      );
      for (const row of rows) {
        page.push(toEvent(row));
        bytes += row.data.length;
        if (bytes >= maxBytes) return page;
      }
      if (rows.length < slice) break;
      after = rows[rows.length - 1].seq;
    }
    return page;
  }

  async bounds(): Promise<EventBounds> {
    const { rows } = await sql<{ pruned: string | null; last: number | null }>`SELECT
        (SELECT value FROM meta WHERE key = 'events_pruned_through') AS pruned,
        (SELECT max(seq) FROM events) AS last`.execute(this.db);
    const prunedThrough = rows[0].pruned === null ? 0 : Number(rows[0].pruned);
    // An empty log (all pruned) ends where pruning stopped; seqs are never reused.
    return { prunedThrough, last: Math.max(rows[0].last ?? 0, prunedThrough) };
  }

  async prune(before: number, batch: number): Promise<number> {
    // Seqs are in commit order and `ts` is the commit time, so the prunable events are a prefix of the log.
    const { rows: head } = await sql<{
      seq: number;
      ts: number;
    }>`SELECT seq, ts FROM events ORDER BY seq LIMIT ${batch}`.execute(this.db);
    let upto: number | null = null;
    let n = 0;
    for (const event of head) {
      if (event.ts >= before) break;
      upto = event.seq;
      n++;
    }
    if (upto === null) return 0;
    await this.db.transaction().execute(async (trx) => {
      await sql`DELETE FROM events WHERE seq <= ${upto}`.execute(trx);
      await sql`INSERT INTO meta (key, value) VALUES ('events_pruned_through', ${String(upto)})
        ON CONFLICT (key) DO UPDATE SET value = excluded.value`.execute(trx);
    });
    return n;
  }
}
