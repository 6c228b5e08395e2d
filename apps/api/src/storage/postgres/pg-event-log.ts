import { createHash } from 'node:crypto';
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type pg from 'pg';
import type { DeviceEventName } from '@iot/protocol';
import {
  type EventBounds,
  type EventFilter,
  type EventRepository,
  type NewEvent,
  type StoredEvent,
  valuesJsonOf,
} from '../../domain/events';
import { announcedEvents, EVENTS_CHANNEL } from './pg-cluster';
import { literalArray, type PgTelemetry, type TelemetryRow, textArray } from './pg-telemetry';

/**
 * Distinct append statements kept prepared on each connection, at most. The
 * text varies only with which parts a batch has and how its arrays are sent:
 * a handful of shapes in practice; past the bound a shape is planned each time.
 */
const MAX_PREPARED = 64;
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
 * The event log on PostgreSQL. Each batch is one autocommitted statement that
 * checks the devices, numbers the events, and inserts them with their
 * telemetry rows, latest values, rollups and the devices' presence and
 * last-seen time (one part per table). The seqs come from `iot_reserve_seqs`
 * (migration 0003), which takes the log's append lock, held until the commit:
 * batches of every replica commit one after another in seq order, and each
 * holds the lock only for the server's own work, no client round trip.
 * The statement also announces the batch to every replica (NOTIFY, sent at
 * its commit, in commit order). Everything that does not need the seqs is
 * computed before the statement.
 */
export class PgEventLog implements EventRepository {
  /** The last batch given; the next one is sent only once it has committed. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Told of each committed batch: its size and how long its statement took (for metrics). */
  onCommit: ((events: number, seconds: number) => void) | undefined;

  /** The prepared statement's name for each append statement's text. */
  private readonly prepared = new Map<string, string>();

  constructor(
    private readonly db: Kysely<unknown>,
    /** The same pool as `db`'s: appends run as named (prepared) statements, which kysely does not make. */
    private readonly pool: pg.Pool,
    readonly epoch: string,
    private readonly telemetry: PgTelemetry,
  ) {}

  /**
   * Batches are written one after another in the order given, so a device's
   * events keep their order in the log. A batch given while one before it is
   * in flight fails with it if it fails: none is stored ahead of a failed
   * one. Once the last batch given has failed, the chain starts afresh.
   */
  append(events: NewEvent[]): Promise<StoredEvent[]> {
    let prepared: PreparedBatch;
    try {
      prepared = this.prepare(events);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = this.tail.then(() => this.write(prepared));
    this.tail = run;
    run.catch(() => {
      if (this.tail === run) this.tail = Promise.resolve();
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
      FROM unnest(${textArray([...presence.keys()])}, ${literalArray([...presence.values()])}::boolean[]) AS u(id, online)
      WHERE d.id = u.id AND EXISTS (SELECT FROM base)`);
    return { events, ids: [...presence.keys()], parts, times };
  }

  private async write(batch: PreparedBatch): Promise<StoredEvent[]> {
    const { events } = batch;
    if (events.length === 0) return [];
    await this.telemetry.ensurePartitions(batch.times);
    // Every replica's LogFeed hears the batch at its commit, with its events when they fit and all are kept.
    const announced = announcedEvents(events);
    const now = Date.now();
    const start = performance.now();
    // Events of a device deleted meanwhile are dropped; a delete waits for this batch (FOR KEY SHARE).
    // The kept events take the next seqs in batch order. Every part that writes refers to `base`, so it
    // runs after the lock is taken: two appends never wait for each other's rows while holding it.
    const statement = sql`WITH
        clock AS (SELECT ${now}::bigint AS now),
        present AS (SELECT id FROM devices WHERE id = ANY(${textArray(batch.ids)}) ORDER BY id FOR KEY SHARE),
        numbered AS (SELECT u.n, u.d, u.t, u.x, row_number() OVER (ORDER BY u.n) AS k
          FROM unnest(${textArray(events.map((e) => e.deviceId))}, ${textArray(events.map((e) => e.type))},
            ${textArray(events.map((e) => e.data))}) WITH ORDINALITY AS u(d, t, x, n)
          WHERE u.d IN (SELECT id FROM present)),
        base AS (SELECT iot_reserve_seqs(count(*)) AS b FROM numbered),
        inserted AS (INSERT INTO events (seq, device_id, type, data, ts)
          SELECT b.b + e.k, e.d, e.t, e.x, c.now FROM numbered AS e CROSS JOIN base AS b CROSS JOIN clock AS c),
        ${sql.join(
          batch.parts.map((part, i) => sql`${sql.id(`part${i}`)} AS (${part})`),
          sql`,
`,
        )}
        SELECT (SELECT b FROM base) AS base, (SELECT count(*) FROM numbered)::int AS kept,
          CASE WHEN (SELECT count(*) FROM present) < ${batch.ids.length}
            THEN (SELECT array_agg(id) FROM present) END AS present,
          pg_notify(${EVENTS_CHANNEL}, (SELECT b FROM base)::text || CASE WHEN (SELECT count(*) FROM numbered) = ${events.length}
            THEN COALESCE(${announced === undefined ? null : ` ${announced}`}::text, '') ELSE '' END)::text AS announced`.compile(
      this.db,
    );
    const { rows } = await this.pool.query<{ base: number; kept: number; present: string[] | null }>({
      name: this.nameOf(statement.sql),
      text: statement.sql,
      values: statement.parameters as unknown[],
    });
    this.onCommit?.(events.length, (performance.now() - start) / 1000);
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
  }

  /**
   * A name for a statement's text: PostgreSQL parses and plans it once per
   * connection (about half of a small batch's server time) instead of each time.
   */
  private nameOf(text: string): string | undefined {
    let name = this.prepared.get(text);
    if (name === undefined && this.prepared.size < MAX_PREPARED) {
      name = `iot_append_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      this.prepared.set(text, name);
    }
    return name;
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
