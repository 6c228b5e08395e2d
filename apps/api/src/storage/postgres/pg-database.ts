import { randomBytes } from 'node:crypto';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { DatabaseHealth } from '../../domain/database';
import { PgCluster } from './pg-cluster';
import { PgCommands } from './pg-commands';
import { PgDeviceState } from './pg-device-state';
import { PgDevices } from './pg-devices';
import { PgModels } from './pg-models';
import { PgAudit } from './pg-audit';
import { PgBulk } from './pg-bulk';
import { PgAlarmRules, PgAlarms } from './pg-alarms';
import { PgEventLog } from './pg-event-log';
import { pgMigrationProvider } from './pg-migrations';
import { PgSessions } from './pg-sessions';
import { PgTelemetry } from './pg-telemetry';
import { PgUsers } from './pg-users';
import { PgWebhooks } from './pg-webhooks';

export interface PgOptions {
  /** Connections the pool may open (DATABASE_POOL_SIZE). */
  poolSize?: number;
  /** Told of a connection lost while idle (the server restarted); the pool opens a new one when next asked. */
  onError?: (error: Error) => void;
}

/** BIGINT (epoch ms, seqs) and NUMERIC (sums of them) read as numbers: every stored one is a safe integer. */
const INT8 = 20;
const NUMERIC = 1700;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 || oid === NUMERIC ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * The PostgreSQL store (pg, through kysely): a bounded pool and the
 * repositories, one per noun, sharing it. Selected by DATABASE_URL.
 */
export class PgDatabase implements DatabaseHealth {
  readonly users: PgUsers;
  readonly sessions: PgSessions;
  readonly devices: PgDevices;
  readonly telemetry: PgTelemetry;
  readonly commands: PgCommands;
  readonly deviceState: PgDeviceState;
  readonly models: PgModels;
  readonly audit: PgAudit;
  readonly bulk: PgBulk;
  readonly webhooks: PgWebhooks;
  readonly alarmRules: PgAlarmRules;
  readonly alarms: PgAlarms;
  readonly events: PgEventLog;
  /** The replicas' channel (LISTEN/NOTIFY). */
  readonly cluster: PgCluster;

  private constructor(
    private readonly db: Kysely<unknown>,
    pool: pg.Pool,
    epoch: string,
    telemetry: PgTelemetry,
    cluster: PgCluster,
  ) {
    this.cluster = cluster;
    this.users = new PgUsers(db);
    this.sessions = new PgSessions(db);
    this.telemetry = telemetry;
    this.commands = new PgCommands(db);
    this.deviceState = new PgDeviceState(db);
    this.models = new PgModels(db);
    this.audit = new PgAudit(db);
    this.bulk = new PgBulk(db);
    this.webhooks = new PgWebhooks(db);
    this.alarmRules = new PgAlarmRules(db);
    this.alarms = new PgAlarms(db);
    this.devices = new PgDevices(db, telemetry);
    this.events = new PgEventLog(db, pool, epoch, telemetry);
  }

  /** Connects, migrates, and reads (or makes) the epoch. */
  static async open(url: string, options: PgOptions = {}): Promise<PgDatabase> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      // A server that is down fails a query (and readiness) within seconds instead of hanging it.
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      types,
    });
    // A connection the server drops (a restart) must not crash the process, idle or in use: a client
    // emits `error` even while checked out, when the pool's own listener is off it. The query fails alone.
    pool.on('connect', (client) => client.on('error', (error) => options.onError?.(error)));
    pool.on('error', () => undefined);
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
    try {
      const { error } = await new Migrator({ db, provider: pgMigrationProvider }).migrateToLatest();
      if (error) throw error instanceof Error ? error : new Error(String(error));
      // Every replica shares the epoch: the first to start makes it.
      await sql`INSERT INTO meta (key, value) VALUES ('epoch', ${randomBytes(4).readUInt32BE(0).toString(36)})
        ON CONFLICT (key) DO NOTHING`.execute(db);
      const { rows } = await sql<{ value: string }>`SELECT value FROM meta WHERE key = 'epoch'`.execute(db);
      const telemetry = await PgTelemetry.open(db);
      const cluster = new PgCluster(url, db, (message) => options.onError?.(new Error(message)));
      return new PgDatabase(db, pool, rows[0].value, telemetry, cluster);
    } catch (error) {
      await db.destroy();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.cluster.close();
    await this.events.settled();
    await this.db.destroy();
  }

  /** Rejects when the server does not answer; the reason names no host (readiness is public). */
  async ping(): Promise<void> {
    try {
      await sql`SELECT 1`.execute(this.db);
    } catch {
      throw new Error('PostgreSQL does not answer');
    }
  }
}
