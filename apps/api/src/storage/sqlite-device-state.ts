import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { JsonObject } from '@iot/protocol';
import type { DeviceStateRecord, DeviceStateRepository } from '../domain/device-state';
import type { Database } from './schema';

/**
 * Device state on SQLite. Saves are one prepared statement on the raw
 * better-sqlite3 handle, for the same reason as SqliteCommands' writes.
 */
export class SqliteDeviceState implements DeviceStateRepository {
  private readonly statements;

  constructor(
    private readonly db: Kysely<Database>,
    sqlite: BetterSqlite3.Database,
  ) {
    const upsertState = sqlite.prepare(
      `INSERT INTO device_state (device_id, reported, desired, version, reported_at, desired_at)
       VALUES (@device_id, @reported, @desired, @version, @reported_at, @desired_at)
       ON CONFLICT (device_id) DO UPDATE SET reported = excluded.reported, desired = excluded.desired,
         version = excluded.version, reported_at = excluded.reported_at, desired_at = excluded.desired_at`,
    );
    const deleteState = sqlite.prepare<[string]>('DELETE FROM device_state WHERE device_id = ?');
    this.statements = { upsertState, deleteState };
  }

  async get(deviceId: string): Promise<DeviceStateRecord> {
    const row = await this.db
      .selectFrom('device_state')
      .selectAll()
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
    return row
      ? {
          reported: JSON.parse(row.reported) as JsonObject,
          desired: JSON.parse(row.desired) as JsonObject,
          version: row.version,
          reportedAt: row.reported_at,
          desiredAt: row.desired_at,
        }
      : { reported: {}, desired: {}, version: 0, reportedAt: null, desiredAt: null };
  }

  async save(deviceId: string, state: DeviceStateRecord): Promise<void> {
    this.statements.upsertState.run({
      device_id: deviceId,
      reported: JSON.stringify(state.reported),
      desired: JSON.stringify(state.desired),
      version: state.version,
      reported_at: state.reportedAt,
      desired_at: state.desiredAt,
    });
  }

  async desiredStates(): Promise<Array<{ deviceId: string; version: number; desired: JsonObject }>> {
    const rows = await this.db
      .selectFrom('device_state')
      .select(['device_id', 'version', 'desired'])
      .where('version', '>', 0)
      .execute();
    return rows.map((r) => ({
      deviceId: r.device_id,
      version: r.version,
      desired: JSON.parse(r.desired) as JsonObject,
    }));
  }

  /** With a device, its state goes too (called inside the device's delete transaction). */
  deleteDevice(deviceId: string): void {
    this.statements.deleteState.run(deviceId);
  }
}
