import { type Kysely, sql } from 'kysely';
import type { JsonObject } from '@iot/protocol';
import type { DeviceStateRecord, DeviceStateRepository, StoredDeviceState } from '../../domain/device-state';
import { jsonbSafe } from './pg-telemetry';

/** Device state on PostgreSQL. */
export class PgDeviceState implements DeviceStateRepository {
  constructor(private readonly db: Kysely<unknown>) {}

  async get(deviceId: string): Promise<StoredDeviceState> {
    const { rows } = await sql<DeviceStateRecord & { revision: number }>`SELECT reported, desired, version,
        reported_at AS "reportedAt", desired_at AS "desiredAt", revision
      FROM device_state WHERE device_id = ${deviceId}`.execute(this.db);
    const row = rows[0];
    if (row === undefined) {
      return { state: { reported: {}, desired: {}, version: 0, reportedAt: null, desiredAt: null }, revision: 0 };
    }
    const { revision, ...state } = row;
    return { state, revision };
  }

  /**
   * Inserts the first row, or updates one still at the revision read. Under
   * READ COMMITTED the conflicting row is locked and its latest version
   * checked, so of two writers that read the same revision one gets 0 rows.
   */
  async save(deviceId: string, state: DeviceStateRecord, revision: number): Promise<boolean> {
    const { numAffectedRows } = await sql`INSERT INTO device_state
        (device_id, reported, desired, version, reported_at, desired_at, revision)
      VALUES (${deviceId}, ${jsonbSafe(JSON.stringify(state.reported))}::jsonb, ${jsonbSafe(JSON.stringify(state.desired))}::jsonb, ${state.version},
        ${state.reportedAt}, ${state.desiredAt}, ${revision + 1})
      ON CONFLICT (device_id) DO UPDATE SET reported = excluded.reported, desired = excluded.desired,
        version = excluded.version, reported_at = excluded.reported_at, desired_at = excluded.desired_at,
        revision = excluded.revision
      WHERE device_state.revision = ${revision}`.execute(this.db);
    return Number(numAffectedRows ?? 0) === 1;
  }

  async desiredStates(): Promise<Array<{ deviceId: string; version: number; desired: JsonObject }>> {
    const { rows } = await sql<{ deviceId: string; version: number; desired: JsonObject }>`
      SELECT device_id AS "deviceId", version, desired FROM device_state WHERE version > 0`.execute(this.db);
    return rows;
  }
}
