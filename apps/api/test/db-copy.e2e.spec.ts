import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { deviceEvents } from '../src/domain/events';
import { SQLITE_FILE } from '../src/platform/config/config';
import { PgDatabase } from '../src/storage/postgres/pg-database';
import { SqliteDatabase } from '../src/storage/sqlite-database';
import { postgresMissing, startPostgres, type TestPostgres } from './postgres';
import { device as deviceRecord } from './storage-engines';
import {
  type ReceivedEvent,
  StreamRecorder,
  type TestApp,
  api,
  connectDevice,
  createDevice,
  createUser,
  login,
  startApp,
  within,
  answeringDevice,
} from './harness';

const missing = postgresMissing();
if (missing) console.warn(`db:copy e2e skipped: ${missing}`);

const ROOT = resolve(__dirname, '../../..');
const T = Date.UTC(2025, 10, 27, 10);
const HOUR = 3_600_000;

/** Runs `npm run db:copy` as a user would; resolves with its exit code and output. */
function dbCopy(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile('npm', ['run', '--silent', 'db:copy', '--', ...args], { cwd: ROOT }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

(missing ? describe.skip : describe)('npm run db:copy: SQLite DATA_DIR into an empty PostgreSQL database', () => {
  let postgres: TestPostgres;
  let target: string;
  let dataDir: string;
  let app: TestApp | undefined;

  beforeAll(async () => {
    postgres = await startPostgres();
    target = postgres.createDatabase('moved');
    dataDir = mkdtempSync(join(tmpdir(), 'iot-db-copy-'));
  }, 60_000);

  afterAll(async () => {
    await app?.stop({ keepData: true });
    postgres?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a DATA_DIR without a database', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'iot-db-copy-empty-'));
    const { code, out } = await dbCopy('--from', empty, '--to', target);
    rmSync(empty, { recursive: true, force: true });
    expect(code).not.toBe(0);
    expect(out).toContain('holds no database');
  }, 30_000);

  it('refuses a database this version has not migrated', async () => {
    const old = mkdtempSync(join(tmpdir(), 'iot-db-copy-old-'));
    new BetterSqlite3(join(old, SQLITE_FILE)).exec('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)').close();
    const { code, out } = await dbCopy('--from', old, '--to', postgres.createDatabase('unmigrated'));
    rmSync(old, { recursive: true, force: true });
    expect(code).not.toBe(0);
    expect(out).toContain('lacks migrations 0001_init');
  }, 30_000);

  it('keeps the epoch and the pruning mark: seqs continue after events pruned before the copy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iot-db-copy-pruned-'));
    const source = await SqliteDatabase.open(join(dir, SQLITE_FILE));
    await source.devices.create(deviceRecord('p-1'), 'hash');
    await source.events.append([1, 2, 3, 4, 5].map((n) => deviceEvents.status('p-1', n % 2 === 0, n)));
    expect(await source.events.prune(Date.now() + 60_000, 100)).toBe(5);
    const epoch = source.events.epoch;
    expect(await source.events.bounds()).toEqual({ prunedThrough: 5, last: 5 });
    await source.close();

    const url = postgres.createDatabase('pruned');
    const copy = await dbCopy('--from', dir, '--to', url);
    rmSync(dir, { recursive: true, force: true });
    expect([copy.code, copy.out]).toEqual([0, expect.stringContaining('events continue after seq 5')]);
    const moved = await PgDatabase.open(url);
    try {
      expect(moved.events.epoch).toBe(epoch);
      expect(await moved.events.bounds()).toEqual({ prunedThrough: 5, last: 5 });
      const [next] = await moved.events.append([deviceEvents.status('p-1', true, 6)]);
      expect(next.seq).toBe(6);
    } finally {
      await moved.close();
    }
  }, 30_000);

  it('keeps devices, users, history, commands, state and the event log, so a stream resumes across the move', async () => {
    // DATABASE_URL '' keeps the source on SQLite even when the whole suite runs on PostgreSQL.
    const sqliteApp = (app = await startApp({ DATABASE_URL: '' }, dataDir));
    const { credentials } = await createDevice(sqliteApp, 'mover-1');
    await createUser(sqliteApp, 'uma', 'viewer');
    const rule = await api(sqliteApp, sqliteApp.adminToken, 'POST', '/alarm-rules', {
      name: 'boiling',
      severity: 'critical',
      target: { deviceId: 'mover-1' },
      condition: { kind: 'above', key: 'temperature', threshold: 98 },
    });
    expect(rule.status).toBe(201);
    const stream = new StreamRecorder(sqliteApp, sqliteApp.adminToken, '?devices=mover-1');
    await stream.opened();
    let device = await answeringDevice(sqliteApp, credentials);
    // Three hours of history in the past (days that get partitions of their own), then one value now.
    const entries = Array.from({ length: 360 }, (_, i) => ({
      ts: T + i * 30_000,
      values: { temperature: (i * 7) % 31, pump: i % 3 === 0, mode: i % 2 === 0 ? 'eco' : 'boost' },
    }));
    await device.publishAsync('devices/mover-1/telemetry', JSON.stringify(entries), { qos: 1 });
    await device.publishAsync('devices/mover-1/telemetry', JSON.stringify({ temperature: 99 }), { qos: 1 });
    const sent = await api<{ commandId: string; status: string; result: unknown }>(
      sqliteApp,
      sqliteApp.adminToken,
      'POST',
      '/devices/mover-1/commands?wait=true',
      { name: 'relay.set', params: { on: true } },
    );
    expect(sent.body).toMatchObject({ status: 'succeeded', result: { echo: { on: true } } });
    const desired = await fetch(`${sqliteApp.url}/api/v1/devices/mover-1/state/desired`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${sqliteApp.adminToken}`, 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ setpoint: 21 }),
    });
    expect(desired.status).toBe(200);
    await device.publishAsync('devices/mover-1/state/reported', JSON.stringify({ setpoint: 20, fw: '1.2' }), {
      qos: 1,
    });
    await stream.waitFor(
      (events) =>
        events.some((e) => e.type === 'state' && e.data['reported'] !== undefined) &&
        events.some((e) => e.type === 'alarm'),
    );
    const alarmId = stream.of('alarm')[0].data['alarmId'] as string;
    const before = stream.events.slice();
    stream.close();

    const reads = [
      '/devices/mover-1',
      `/devices/mover-1/telemetry?keys=temperature,pump,mode&from=${T}&to=${T + 3 * HOUR}&limit=100000`,
      `/devices/mover-1/telemetry?keys=temperature,pump,mode&from=${T}&to=${T + 3 * HOUR}&bucket=10m&agg=avg`,
      `/devices/mover-1/telemetry?keys=temperature,pump,mode&from=${T}&to=${T + 3 * HOUR}&bucket=1h&agg=last`,
      `/devices/mover-1/telemetry?keys=temperature&from=${T}&to=${T + 3 * HOUR}&bucket=45s&agg=count`,
      '/devices/mover-1/telemetry/latest',
      '/devices/mover-1/commands',
      `/commands/${sent.body.commandId}`,
      '/devices/mover-1/state',
      '/users',
      '/alarm-rules',
      '/alarms',
      `/alarms/${alarmId}`,
    ];
    const answers = async (on: TestApp) => {
      const bodies: unknown[] = [];
      for (const path of reads) {
        const { status, body } = await api(on, on.adminToken, 'GET', path);
        expect([path, status]).toEqual([path, 200]);
        bodies.push(body);
      }
      return bodies;
    };
    const onSqlite = await answers(sqliteApp);
    expect(JSON.stringify(onSqlite[1])).toContain('boost');

    const running = await dbCopy('--from', dataDir, '--to', target);
    expect(running.code).not.toBe(0);
    expect(running.out).toContain('stop the api');

    await device.endAsync();
    await sqliteApp.stop({ keepData: true });
    app = undefined;

    // Small batches, so every large table goes over in several.
    const copy = await dbCopy('--from', dataDir, '--to', target, '--batch', '50');
    expect([copy.code, copy.out]).toEqual([0, expect.stringContaining('done:')]);
    expect(copy.out).toMatch(/telemetry_messages: 361 rows/);

    // Raw history sits in daily partitions (retention drops whole days), none in the default one.
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      const inDefault = await client.query<{ n: string }>('SELECT count(*) AS n FROM telemetry_messages_default');
      expect(inDefault.rows[0].n).toBe('0');
      const days = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'telemetry_messages'::regclass`,
      );
      expect(Number(days.rows[0].n)).toBeGreaterThanOrEqual(3);
      // The state's revision goes over too (one desired and one reported save), so saves go on from it.
      const state = await client.query<{ revision: number }>(
        `SELECT revision FROM device_state WHERE device_id = 'mover-1'`,
      );
      expect(state.rows).toEqual([{ revision: 2 }]);
    } finally {
      await client.end();
    }

    const pgApp = (app = await startApp({ DATABASE_URL: target }, dataDir));
    // The admin (same password) and the user made on SQLite log in; nothing was seeded anew.
    expect((await login(pgApp.url, 'uma', 'uma-password')).accessToken).toBeTruthy();
    const onPostgres = await answers(pgApp);
    // The device's status differs only as it reconnected; compare everything else as it was.
    expect(onPostgres.slice(1)).toEqual(onSqlite.slice(1));
    expect(onPostgres[0]).toMatchObject({ id: 'mover-1', name: 'mover-1', type: 'thermostat' });

    // A browser resumes from an event seen before the move: exactly the rest, no reset, then new ones.
    const lastSeen = before[1];
    const resumed = new StreamRecorder(pgApp, pgApp.adminToken, '?devices=mover-1', lastSeen.id);
    await resumed.opened();
    // The rest of what the first stream saw, then the device going offline as the SQLite api stopped.
    await resumed.waitFor((events) => events.length >= before.length - 1);
    const replayed = resumed.events.slice(0, before.length - 1);
    expect(replayed.slice(0, -1).map((e) => [e.id, e.type])).toEqual(before.slice(2).map((e) => [e.id, e.type]));
    expect(replayed[replayed.length - 1]).toMatchObject({ type: 'status', data: { online: false } });

    // The device logs in with its old secret (the embedded broker checks the copied hash); new seqs follow.
    device = await within(connectDevice(pgApp, credentials), 10_000, 'device connects with its old secret');
    // The copied alarm is open on PostgreSQL: cleared by hand, then a new one has a larger id.
    expect((await api(pgApp, pgApp.adminToken, 'POST', `/alarms/${alarmId}/clear`, {})).status).toBe(200);
    await device.publishAsync('devices/mover-1/telemetry', JSON.stringify({ temperature: 50 }), { qos: 1 });
    await device.publishAsync('devices/mover-1/telemetry', JSON.stringify({ temperature: 100 }), { qos: 1 });
    // The replay holds the copied alarm's own `raised` event too.
    const raisedNow = (events: ReceivedEvent[]) =>
      events.filter((e) => e.type === 'alarm' && e.data['status'] === 'raised' && e.data['alarmId'] !== alarmId);
    await resumed.waitFor((events) => raisedNow(events).length > 0);
    expect(raisedNow(resumed.events).map((e) => Number(e.data['alarmId']))).toEqual([Number(alarmId) + 1]);
    await resumed.waitFor((events) =>
      events.some((e) => e.type === 'telemetry' && (e.data['values'] as { temperature?: number }).temperature === 100),
    );
    expect(resumed.events.some((e) => e.type === 'reset')).toBe(false);
    const seq = (id: string) => Number(id.split('-').pop());
    const epoch = (id: string) => id.split('-').slice(0, -1).join('-');
    const after = resumed.events.slice(before.length - 1);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((e) => epoch(e.id) === epoch(lastSeen.id))).toBe(true);
    const allSeqs = resumed.events.map((e) => seq(e.id));
    expect(allSeqs).toEqual([...allSeqs].sort((a, b) => a - b));
    expect(seq(after[0].id)).toBeGreaterThan(seq(replayed[replayed.length - 1].id));
    resumed.close();
    await device.endAsync();
    // The copied state takes changes: the desired state goes on from its version.
    const changed = await fetch(`${pgApp.url}/api/v1/devices/mover-1/state/desired`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${pgApp.adminToken}`, 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ setpoint: 22 }),
    });
    expect([changed.status, await changed.json()]).toEqual([200, { version: 2 }]);

    const again = await dbCopy('--from', dataDir, '--to', target);
    expect(again.code).not.toBe(0);
    expect(again.out).toContain('already holds data');
  }, 120_000);
});
