import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { JsonObject } from '@iot/protocol';
import type { DeviceStateRecord, DeviceStateRepository, StoredDeviceState } from '../domain/device-state';
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
    // Inserts the first row, or updates one still at the revision read; 0 changes when another writer came first.
    const saveState = sqlite.prepare(
      `INSERT INTO device_state (device_id, reported, desired, version, reported_at, desired_at, revision)
       VALUES (@device_id, @reported, @desired, @version, @reported_at, @desired_at, @revision + 1)
       ON CONFLICT (device_id) DO UPDATE SET reported = excluded.reported, desired = excluded.desired,
         version = excluded.version, reported_at = excluded.reported_at, desired_at = excluded.desired_at,
         revision = excluded.revision
       WHERE device_state.revision = @revision`,
    );
    const deleteState = sqlite.prepare<[string]>('DELETE FROM device_state WHERE device_id = ?');
    this.statements = { saveState, deleteState };
  }

  async get(deviceId: string): Promise<StoredDeviceState> {
    const row = await this.db
      .selectFrom('device_state')
      .selectAll()
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
    return row
      ? {
          state: {
            reported: JSON.parse(row.reported) as JsonObject,
            desired: JSON.parse(row.desired) as JsonObject,
            version: row.version,
            reportedAt: row.reported_at,
            desiredAt: row.desired_at,
          },
          revision: row.revision,
        }
      : { state: { reported: {}, desired: {}, version: 0, reportedAt: null, desiredAt: null }, revision: 0 };
  }

  async save(deviceId: string, state: DeviceStateRecord, revision: number): Promise<boolean> {
    const { changes } = this.statements.saveState.run({
      device_id: deviceId,
      reported: JSON.stringify(state.reported),
      desired: JSON.stringify(state.desired),
      version: state.version,
      reported_at: state.reportedAt,
      desired_at: state.desiredAt,
      revision,
    });
    return changes === 1;
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
