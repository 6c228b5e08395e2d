import { type Kysely, sql } from 'kysely';
import type { DeviceEventName } from '@iot/protocol';
import {
  type EventBounds,
  type EventFilter,
  type EventRepository,
  type NewEvent,
  type StoredEvent,
  valuesJsonOf,
} from '../../domain/events';
import type { PgTelemetry, TelemetryRow } from './pg-telemetry';

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

/**
 * The event log on PostgreSQL. Each batch is one transaction: the events,
 * then the telemetry rows (PgTelemetry.write) and the devices' presence and
 * last-seen time, one multi-row statement per table. Batches run one after
 * another in the order given.
 */
export class PgEventLog implements EventRepository {
  /** The last batch given; the next one starts once it has settled. */
  private tail: Promise<unknown> = Promise.resolve();
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
   */
  append(events: NewEvent[]): Promise<StoredEvent[]> {
    const run = this.tail.then(() => this.write(events));
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

  private async write(events: NewEvent[]): Promise<StoredEvent[]> {
    if (events.length === 0) return [];
    await this.telemetry.ensurePartitions(events.filter((e) => e.type === 'telemetry').map((e) => e.ts));
    const now = Date.now();
    const start = performance.now();
    const stored = await this.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${APPEND_LOCK})`.execute(trx);
      // Events of a device deleted meanwhile are dropped; a delete waits for this batch (FOR KEY SHARE).
      const ids = [...new Set(events.map((e) => e.deviceId))];
      const { rows: present } = await sql<{ id: string }>`SELECT id FROM devices WHERE id = ANY(${ids}::text[])
        ORDER BY id FOR KEY SHARE`.execute(trx);
      const exists = new Set(present.map((row) => row.id));
      const kept = exists.size === ids.length ? events : events.filter((e) => exists.has(e.deviceId));
      if (kept.length === 0) return [];
      const { rows } = await sql<{ seq: number }>`INSERT INTO events (device_id, type, data, ts)
        SELECT d, t, x, ${now}::bigint FROM unnest(${kept.map((e) => e.deviceId)}::text[], ${kept.map((e) => e.type)}::text[],
          ${kept.map((e) => e.data)}::text[]) WITH ORDINALITY AS u(d, t, x, n)
        ORDER BY n RETURNING seq`.execute(trx);
      // Rows are numbered in the order they are inserted, which is the batch's.
      const seqs = rows.map((row) => row.seq).sort((a, b) => a - b);
      const stored: StoredEvent[] = new Array(kept.length);
      const telemetry: TelemetryRow[] = [];
      const presence = new Map<string, boolean | null>();
      for (let i = 0; i < kept.length; i++) {
        const event = kept[i];
        stored[i] = { seq: seqs[i], type: event.type, deviceId: event.deviceId, data: event.data };
        if (event.type === 'telemetry') {
          const json = valuesJsonOf(event.data);
          if (json !== undefined) {
            try {
              telemetry.push({ deviceId: event.deviceId, ts: event.ts, seq: seqs[i], json, parsed: JSON.parse(json) });
            } catch {
              // Data that is not telemetryEvent's gets no history row (a bug elsewhere must not stop the log).
            }
          }
        }
        presence.set(event.deviceId, event.online ?? presence.get(event.deviceId) ?? null);
      }
      await this.telemetry.write(trx, telemetry);
      await sql`UPDATE devices AS d SET last_seen = GREATEST(COALESCE(d.last_seen, 0), ${now}::bigint),
          online = COALESCE(u.online, d.online)
        FROM unnest(${[...presence.keys()]}::text[], ${[...presence.values()]}::boolean[]) AS u(id, online)
        WHERE d.id = u.id`.execute(trx);
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
