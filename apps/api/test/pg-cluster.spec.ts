import { Logger } from '@nestjs/common';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { ClusterListener, ClusterNotice } from '../src/domain/cluster';
import { PgCluster } from '../src/storage/postgres/pg-cluster';
import { within } from './harness';
import { type TestPostgres, postgresMissing, startPostgres } from './postgres';

const missing = postgresMissing();
if (missing) console.warn(`skipping the replicas' channel tests: ${missing}`);

/** What one replica's channel heard, and a way to wait for it. */
class Heard implements ClusterListener {
  readonly notices: ClusterNotice[] = [];
  appendedCount = 0;
  resyncs = 0;
  private waiters: Array<() => void> = [];

  notice(notice: ClusterNotice): void {
    this.notices.push(notice);
    this.wake();
  }

  appended(): void {
    this.appendedCount++;
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

  it("tells every other replica a notice, once, and not the sender; a grown log likewise", async () => {
    const [a, b, c] = [await replica(), await replica(), await replica()];
    const notice: ClusterNotice = { kind: 'sessions.ended', sessionIds: ['s1', 's2'] };
    await a.channel.announce(notice);
    await b.heard.until(() => b.heard.notices.length === 1, 'b hears the notice');
    await c.heard.until(() => c.heard.notices.length === 1, 'c hears the notice');
    expect([b.heard.notices, c.heard.notices]).toEqual([[notice], [notice]]);

    a.channel.appended();
    await b.heard.until(() => b.heard.appendedCount >= 1, 'b hears that the log grew');
    await c.heard.until(() => c.heard.appendedCount >= 1, 'c hears that the log grew');
    // B's own notice reaches A: A heard nothing of its own before.
    await b.channel.announce({ kind: 'device.removed', deviceId: 'dev-1' });
    await a.heard.until(() => a.heard.notices.length === 1, 'a hears b');
    expect(a.heard.notices).toEqual([{ kind: 'device.removed', deviceId: 'dev-1' }]);
    expect(a.heard.appendedCount).toBe(0);
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
