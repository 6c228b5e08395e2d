import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import {
  type AppendedBatch,
  type ClusterChannel,
  type ClusterListener,
  type ClusterNotice,
  parseClusterNotice,
} from '../../domain/cluster';
import type { NewEvent, StoredEvent } from '../../domain/events';

/** The channel of notices (a replica's id, a space, the notice as JSON). */
const NOTICES = 'iot_notices';
/**
 * The channel the event log announces each append on, from the append's own
 * statement (so at its commit, in commit order): the seq the batch follows,
 * then, when it fits, a space and the events as JSON `[[type, deviceId, data], …]`.
 */
export const EVENTS_CHANNEL = 'iot_events';
/** PostgreSQL refuses a payload of 8,000 bytes or more; the seq before the events takes at most 20. */
const MAX_EVENTS_JSON_BYTES = 7_900;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 5_000;

/**
 * The replicas' channel on PostgreSQL: LISTEN on a connection of its own,
 * NOTIFY through the pool. A notification reaches every listener once the
 * transaction that sent it commits; a replica ignores its own. When the
 * listening connection is lost it is opened again, and the listener is told
 * to resync, as notifications sent meanwhile are gone.
 */
export class PgCluster implements ClusterChannel {
  readonly shared = true;
  /** This process's id in payloads, so it ignores what it sent itself. */
  private readonly id = randomBytes(6).toString('hex');
  private client: pg.Client | undefined;
  private listener: ClusterListener | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private retryMs = RECONNECT_MIN_MS;

  constructor(
    private readonly url: string,
    private readonly db: Kysely<unknown>,
    private readonly onError: (message: string) => void = () => undefined,
  ) {}

  async listen(listener: ClusterListener): Promise<void> {
    this.listener = listener;
    await this.connect(false);
  }

  async announce(notice: ClusterNotice): Promise<void> {
    await sql`SELECT pg_notify(${NOTICES}, ${`${this.id} ${JSON.stringify(notice)}`})`.execute(this.db);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(resync: boolean): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5_000, keepAlive: true });
    client.on('notification', (message) => this.heard(message));
    client.on('error', (error) => this.onError(`the replicas' channel failed: ${error.message}`));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}; LISTEN ${NOTICES}`);
    } catch (error) {
      this.onError(`the replicas' channel could not listen: ${(error as Error).message}`);
      await client.end().catch(() => undefined);
      this.schedule(true);
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = RECONNECT_MIN_MS;
    if (resync) this.listener?.resync();
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.schedule(true);
  }

  private schedule(resync: boolean): void {
    if (this.closed || this.retry) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect(resync);
    }, delay);
    this.retry.unref();
  }

  private heard(message: pg.Notification): void {
    const payload = message.payload ?? '';
    if (message.channel === EVENTS_CHANNEL) {
      this.listener?.appended(parseAppended(payload));
      return;
    }
    const space = payload.indexOf(' ');
    if (space === -1 || payload.slice(0, space) === this.id) return;
    const notice = parseClusterNotice(payload.slice(space + 1));
    if (notice) this.listener?.notice(notice);
  }
}

/** A batch's events as its announcement carries them, or undefined when they would not fit. */
export function announcedEvents(events: readonly NewEvent[]): string | undefined {
  let estimate = 2;
  for (const event of events) {
    estimate += event.data.length + event.deviceId.length + event.type.length + 10;
    if (estimate > MAX_EVENTS_JSON_BYTES) return undefined;
  }
  const json = JSON.stringify(events.map((event) => [event.type, event.deviceId, event.data]));
  return Buffer.byteLength(json) <= MAX_EVENTS_JSON_BYTES ? json : undefined;
}

/**
 * The batch an announcement carries; undefined when it carries none or is
 * not in the shape the log sends, and the log is to be read.
 */
export function parseAppended(payload: string): AppendedBatch | undefined {
  const space = payload.indexOf(' ');
  if (space === -1) return undefined;
  const after = Number(payload.slice(0, space));
  if (!Number.isSafeInteger(after) || after < 0) return undefined;
  let list: unknown;
  try {
    list = JSON.parse(payload.slice(space + 1));
  } catch {
    return undefined;
  }
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const events: StoredEvent[] = [];
  for (const item of list) {
    if (!Array.isArray(item) || item.length !== 3 || !item.every((part) => typeof part === 'string')) return undefined;
    const [type, deviceId, data] = item as [StoredEvent['type'], string, string];
    events.push({ seq: after + events.length + 1, type, deviceId, data });
  }
  return { after, events };
}
