import { type Kysely, sql } from 'kysely';
import type { DeviceModel } from '@iot/protocol';
import type { ModelRef, ModelRepository, ModelSummary } from '../../domain/models';
import { jsonbSafe } from './pg-telemetry';

/** The model catalogue and device assignments on PostgreSQL. */
export class PgModels implements ModelRepository {
  constructor(private readonly db: Kysely<unknown>) {}

  async insert(model: DeviceModel, now: number): Promise<boolean> {
    const { numAffectedRows } = await sql`INSERT INTO models (id, version, document, title, created_at)
      VALUES (${model.id}, ${model.version}, ${jsonbSafe(JSON.stringify(model))}::jsonb, ${model.title ?? null}, ${now})
      ON CONFLICT DO NOTHING`.execute(this.db);
    return Number(numAffectedRows ?? 0) === 1;
  }

  async get(ref: ModelRef): Promise<DeviceModel | undefined> {
    const { rows } = await sql<{ document: DeviceModel }>`SELECT document FROM models
      WHERE id = ${ref.id} AND version = ${ref.version}`.execute(this.db);
    return rows[0]?.document;
  }

  async list(limit: number, afterId = ''): Promise<ModelSummary[]> {
    const { rows } = await sql<ModelSummary>`SELECT DISTINCT ON (id) id, version, title,
        (count(*) OVER (PARTITION BY id))::int AS versions
      FROM models WHERE id > ${afterId} ORDER BY id, version DESC LIMIT ${limit}`.execute(this.db);
    return rows;
  }

  async versions(id: string): Promise<number[]> {
    const { rows } = await sql<{ version: number }>`SELECT version FROM models WHERE id = ${id}
      ORDER BY version DESC`.execute(this.db);
    return rows.map((row) => row.version);
  }

  async assign(deviceId: string, ref: ModelRef | null, now: number): Promise<boolean> {
    if (ref === null) {
      const { rows } = await sql<{
        found: boolean;
      }>`WITH gone AS (DELETE FROM device_models WHERE device_id = ${deviceId})
        SELECT EXISTS (SELECT FROM devices WHERE id = ${deviceId}) AS found`.execute(this.db);
      return rows[0].found;
    }
    const { numAffectedRows } = await sql`INSERT INTO device_models (device_id, model_id, model_version, assigned_at)
      SELECT d.id, m.id, m.version, ${now} FROM devices AS d, models AS m
      WHERE d.id = ${deviceId} AND m.id = ${ref.id} AND m.version = ${ref.version}
      ON CONFLICT (device_id) DO UPDATE SET model_id = excluded.model_id, model_version = excluded.model_version,
        assigned_at = excluded.assigned_at`.execute(this.db);
    return Number(numAffectedRows ?? 0) === 1;
  }

  async assigned(deviceId: string): Promise<ModelRef | undefined> {
    const { rows } = await sql<ModelRef>`SELECT model_id AS id, model_version AS version FROM device_models
      WHERE device_id = ${deviceId}`.execute(this.db);
    return rows[0];
  }

  async assignments(): Promise<Array<{ deviceId: string; model: ModelRef }>> {
    const { rows } = await sql<{ deviceId: string; id: string; version: number }>`SELECT device_id AS "deviceId",
        model_id AS id, model_version AS version FROM device_models`.execute(this.db);
    return rows.map((row) => ({ deviceId: row.deviceId, model: { id: row.id, version: row.version } }));
  }
}
