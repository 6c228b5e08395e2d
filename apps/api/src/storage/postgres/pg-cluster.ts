import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { type ClusterChannel, type ClusterListener, type ClusterNotice, parseClusterNotice } from '../../domain/cluster';

/** The channel of notices (a replica's id, a space, the notice as JSON). */
const NOTICES = 'iot_notices';
/** The channel that says the log has grown (the payload is the sender's id). */
const EVENTS = 'iot_events';
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
  private notifying = false;
  private notifyAgain = false;

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

  appended(): void {
    if (this.notifying) {
      this.notifyAgain = true;
      return;
    }
    this.notifying = true;
    void sql`SELECT pg_notify(${EVENTS}, ${this.id})`
      .execute(this.db)
      // The others poll the log too: a lost notification delays them, it loses nothing.
      .catch(() => undefined)
      .finally(() => {
        this.notifying = false;
        if (this.notifyAgain) {
          this.notifyAgain = false;
          this.appended();
        }
      });
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
      await client.query(`LISTEN ${EVENTS}; LISTEN ${NOTICES}`);
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
    if (message.channel === EVENTS) {
      if (payload !== this.id) this.listener?.appended();
      return;
    }
    const space = payload.indexOf(' ');
    if (space === -1 || payload.slice(0, space) === this.id) return;
    const notice = parseClusterNotice(payload.slice(space + 1));
    if (notice) this.listener?.notice(notice);
  }
}
