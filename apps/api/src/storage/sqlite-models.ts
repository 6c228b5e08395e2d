import type BetterSqlite3 from 'better-sqlite3';
import type { DeviceModel } from '@iot/protocol';
import type { ModelRef, ModelRepository, ModelSummary } from '../domain/models';

/** The model catalogue and device assignments on SQLite (one statement each, on the store's connection). */
export class SqliteModels implements ModelRepository {
  private readonly statements;

  constructor(sqlite: BetterSqlite3.Database) {
    this.statements = {
      insert: sqlite.prepare(
        `INSERT INTO models (id, version, document, title, created_at) VALUES (@id, @version, @document, @title, @now)
         ON CONFLICT DO NOTHING`,
      ),
      get: sqlite.prepare<[string, number], { document: string }>(
        'SELECT document FROM models WHERE id = ? AND version = ?',
      ),
      list: sqlite.prepare<[string, number], { id: string; version: number; title: string | null; versions: number }>(
        `SELECT m.id, m.version, m.title, c.versions FROM models AS m
         JOIN (SELECT id, max(version) AS version, count(*) AS versions FROM models WHERE id > ? GROUP BY id
               ORDER BY id LIMIT ?) AS c ON c.id = m.id AND c.version = m.version
         ORDER BY m.id`,
      ),
      versions: sqlite.prepare<[string], { version: number }>(
        'SELECT version FROM models WHERE id = ? ORDER BY version DESC',
      ),
      assign: sqlite.prepare(
        `INSERT INTO device_models (device_id, model_id, model_version, assigned_at)
         SELECT @deviceId, @id, @version, @now
         WHERE EXISTS (SELECT 1 FROM devices WHERE id = @deviceId)
           AND EXISTS (SELECT 1 FROM models WHERE id = @id AND version = @version)
         ON CONFLICT (device_id) DO UPDATE SET model_id = excluded.model_id, model_version = excluded.model_version,
           assigned_at = excluded.assigned_at`,
      ),
      unassign: sqlite.prepare<[string]>('DELETE FROM device_models WHERE device_id = ?'),
      deviceExists: sqlite.prepare<[string]>('SELECT 1 FROM devices WHERE id = ?').pluck(),
      assigned: sqlite.prepare<[string], { model_id: string; model_version: number }>(
        'SELECT model_id, model_version FROM device_models WHERE device_id = ?',
      ),
      assignments: sqlite.prepare<[], { device_id: string; model_id: string; model_version: number }>(
        'SELECT device_id, model_id, model_version FROM device_models',
      ),
    };
  }

  async insert(model: DeviceModel, now: number): Promise<boolean> {
    const document = JSON.stringify(model);
    const { changes } = this.statements.insert.run({
      id: model.id,
      version: model.version,
      document,
      title: model.title ?? null,
      now,
    });
    return changes === 1;
  }

  async get(ref: ModelRef): Promise<DeviceModel | undefined> {
    const row = this.statements.get.get(ref.id, ref.version);
    return row && (JSON.parse(row.document) as DeviceModel);
  }

  async list(limit: number, afterId = ''): Promise<ModelSummary[]> {
    return this.statements.list.all(afterId, limit);
  }

  async versions(id: string): Promise<number[]> {
    return this.statements.versions.all(id).map((row) => row.version);
  }

  async assign(deviceId: string, ref: ModelRef | null, now: number): Promise<boolean> {
    if (ref === null) {
      this.statements.unassign.run(deviceId);
      return this.statements.deviceExists.get(deviceId) !== undefined;
    }
    const { changes } = this.statements.assign.run({ deviceId, id: ref.id, version: ref.version, now });
    return changes === 1;
  }

  async assigned(deviceId: string): Promise<ModelRef | undefined> {
    const row = this.statements.assigned.get(deviceId);
    return row && { id: row.model_id, version: row.model_version };
  }

  async assignments(): Promise<Array<{ deviceId: string; model: ModelRef }>> {
    return this.statements.assignments
      .all()
      .map((row) => ({ deviceId: row.device_id, model: { id: row.model_id, version: row.model_version } }));
  }

  /** With a device, its assignment goes too (called inside the device's delete transaction). */
  deleteDevice(deviceId: string): void {
    this.statements.unassign.run(deviceId);
  }
}
