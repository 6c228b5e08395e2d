import { Logger } from '@nestjs/common';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { AppendedBatch, ClusterListener, ClusterNotice } from '../src/domain/cluster';
import { telemetryEvent } from '../src/domain/events';
import { PgCluster } from '../src/storage/postgres/pg-cluster';
import { PgDatabase } from '../src/storage/postgres/pg-database';
import { device } from './storage-engines';
import { within } from './harness';
import { type TestPostgres, postgresMissing, startPostgres } from './postgres';

const missing = postgresMissing();
if (missing) console.warn(`skipping the replicas' channel tests: ${missing}`);

/** What one replica's channel heard, and a way to wait for it. */
class Heard implements ClusterListener {
  readonly notices: ClusterNotice[] = [];
  /** Each announcement of an append: the batch it carried, or undefined. */
  readonly batches: Array<AppendedBatch | undefined> = [];
  resyncs = 0;
  private waiters: Array<() => void> = [];

  notice(notice: ClusterNotice): void {
    this.notices.push(notice);
    this.wake();
  }

  appended(batch?: AppendedBatch): void {
    this.batches.push(batch);
    this.wake();
  }

  resync(): void {
    this.resyncs++;
    this.wake();
  }

  async until(predicate: () => boolean, what: string): Promise<void> {
    await within(
      (async () => {
        while (!predicate()) await new Promise<void>((resolve) => this.waiters.push(resolve));
      })(),
      10_000,
      what,
    );
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

(missing ? describe.skip : describe)("the replicas' channel on PostgreSQL (LISTEN/NOTIFY)", () => {
  let postgres: TestPostgres;
  const dbs: Array<Kysely<unknown>> = [];
  const channels: PgCluster[] = [];

  beforeAll(async () => {
    Logger.overrideLogger(false);
    postgres = await startPostgres();
  });

  afterAll(async () => {
    for (const channel of channels) await channel.close();
    for (const db of dbs) await db.destroy();
    postgres?.stop();
  });

  async function replica(): Promise<{ channel: PgCluster; heard: Heard }> {
    const pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
    dbs.push(db);
    const channel = new PgCluster(postgres.url, db);
    channels.push(channel);
    const heard = new Heard();
    await channel.listen(heard);
    return { channel, heard };
  }

  it('tells every other replica a notice, once, and not the sender', async () => {
    const [a, b, c] = [await replica(), await replica(), await replica()];
    const notice: ClusterNotice = { kind: 'sessions.ended', sessionIds: ['s1', 's2'] };
    await a.channel.announce(notice);
    await b.heard.until(() => b.heard.notices.length === 1, 'b hears the notice');
    await c.heard.until(() => c.heard.notices.length === 1, 'c hears the notice');
    expect([b.heard.notices, c.heard.notices]).toEqual([[notice], [notice]]);

    // B's own notice reaches A: A heard nothing of its own before.
    await b.channel.announce({ kind: 'device.removed', deviceId: 'dev-1' });
    await a.heard.until(() => a.heard.notices.length === 1, 'a hears b');
    expect(a.heard.notices).toEqual([{ kind: 'device.removed', deviceId: 'dev-1' }]);
  });

  it('hears each append at its commit with its events and seqs, or without them when they do not fit or one was dropped', async () => {
    const url = postgres.createDatabase('announced');
    const store = await PgDatabase.open(url, { poolSize: 2 });
    try {
      const heard = new Heard();
      await store.cluster.listen(heard);
      await store.devices.create(device('a'), 'h');
      const first = await store.events.append([telemetryEvent('a', 1, { n: 1 }), telemetryEvent('a', 2, { n: 2 })]);
      await heard.until(() => heard.batches.length === 1, 'the first append is heard');
      expect(heard.batches[0]).toEqual({ after: first[0].seq - 1, events: first });

      const large = await store.events.append([telemetryEvent('a', 3, { s: 'x'.repeat(8_000) })]);
      // An event of a device that does not exist is dropped: the others' seqs are then read, not announced.
      await store.events.append([telemetryEvent('ghost', 4, { n: 4 }), telemetryEvent('a', 4, { n: 4 })]);
      await heard.until(() => heard.batches.length === 3, 'the other appends are heard');
      expect(heard.batches.slice(1)).toEqual([undefined, undefined]);
      expect(large[0].seq).toBe(first[1].seq + 1);

      // A notification on the channel in another shape carries nothing either.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`SELECT pg_notify('iot_events', '7 [["telemetry","a"]]'), pg_notify('iot_events', 'x [[]]')`);
      await client.end();
      await heard.until(() => heard.batches.length === 5, 'the odd notifications are heard');
      expect(heard.batches.slice(3)).toEqual([undefined, undefined]);
    } finally {
      await store.close();
    }
  });

  it('ignores a notification that is not a notice, and resyncs after its listening connection is cut', async () => {
    const [a, b] = [await replica(), await replica()];
    const db = dbs[dbs.length - 1];
    await sql`SELECT pg_notify('iot_notices', 'someone {"kind":"nonsense"}')`.execute(db);
    await sql`SELECT pg_notify('iot_notices', 'garbage')`.execute(db);
    await a.channel.announce({ kind: 'user.changed', username: 'amy' });
    await b.heard.until(() => b.heard.notices.length === 1, 'b hears the valid notice');
    expect(b.heard.notices).toEqual([{ kind: 'user.changed', username: 'amy' }]);

    // Every listening connection is cut (as a server restart or a network fault would): each channel
    // opens its own again and asks for a resync, as notices sent meanwhile are gone.
    await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`.execute(db);
    await b.heard.until(() => b.heard.resyncs >= 1, 'b resyncs');
    await a.channel.announce({ kind: 'user.changed', username: 'bob' });
    await b.heard.until(() => b.heard.notices.length === 2, 'b hears again');
  });
});
