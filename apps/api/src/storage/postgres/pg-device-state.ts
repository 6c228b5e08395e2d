import { type Kysely, sql } from 'kysely';
import type { JsonObject } from '@iot/protocol';
import type { DeviceStateRecord, DeviceStateRepository } from '../../domain/device-state';
import { jsonbSafe } from './pg-telemetry';

/** Device state on PostgreSQL. */
export class PgDeviceState implements DeviceStateRepository {
  constructor(private readonly db: Kysely<unknown>) {}

  async get(deviceId: string): Promise<DeviceStateRecord> {
    const { rows } = await sql<DeviceStateRecord>`SELECT reported, desired, version,
        reported_at AS "reportedAt", desired_at AS "desiredAt"
      FROM device_state WHERE device_id = ${deviceId}`.execute(this.db);
    return rows[0] ?? { reported: {}, desired: {}, version: 0, reportedAt: null, desiredAt: null };
  }

  async save(deviceId: string, state: DeviceStateRecord): Promise<void> {
    await sql`INSERT INTO device_state (device_id, reported, desired, version, reported_at, desired_at)
      VALUES (${deviceId}, ${jsonbSafe(JSON.stringify(state.reported))}::jsonb, ${jsonbSafe(JSON.stringify(state.desired))}::jsonb, ${state.version},
        ${state.reportedAt}, ${state.desiredAt})
      ON CONFLICT (device_id) DO UPDATE SET reported = excluded.reported, desired = excluded.desired,
        version = excluded.version, reported_at = excluded.reported_at, desired_at = excluded.desired_at`.execute(
      this.db,
    );
  }

  async desiredStates(): Promise<Array<{ deviceId: string; version: number; desired: JsonObject }>> {
    const { rows } = await sql<{ deviceId: string; version: number; desired: JsonObject }>`
      SELECT device_id AS "deviceId", version, desired FROM device_state WHERE version > 0`.execute(this.db);
    return rows;
  }
}
