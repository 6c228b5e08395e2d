import { type Kysely, sql } from 'kysely';
import type { DeviceListFilter, DevicePatch, DeviceRecord, DeviceRepository, ListedDevice } from '../../domain/devices';
import { jsonbSafe, type PgTelemetry } from './pg-telemetry';

interface DeviceRow {
  id: string;
  name: string;
  type: string | null;
  labels: Record<string, string>;
  online: boolean;
  last_seen: number | null;
  created_at: number;
  updated_at: number;
}

const COLUMNS = sql.raw('id, name, type, labels, online, last_seen, created_at, updated_at');

function toDevice(row: DeviceRow): DeviceRecord {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    labels: row.labels,
    online: row.online,
    lastSeen: row.last_seen,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The device registry on PostgreSQL. */
export class PgDevices implements DeviceRepository {
  constructor(
    private readonly db: Kysely<unknown>,
    /** Forgets a deleted device's keys in memory, once its rows are gone. */
    private readonly telemetry: PgTelemetry,
  ) {}

  async create(device: DeviceRecord, secretHash: string): Promise<boolean> {
    const result =
      await sql`INSERT INTO devices (id, name, type, labels, secret_hash, online, last_seen, created_at, updated_at)
      VALUES (${device.id}, ${device.name}, ${device.type}, ${jsonbSafe(JSON.stringify(device.labels))}::jsonb, ${secretHash},
        false, NULL, ${device.createdAt}, ${device.updatedAt})
      ON CONFLICT (id) DO NOTHING`.execute(this.db);
    return Number(result.numAffectedRows ?? 0) > 0;
  }

  async get(id: string): Promise<DeviceRecord | undefined> {
    const { rows } = await sql<DeviceRow>`SELECT ${COLUMNS} FROM devices WHERE id = ${id}`.execute(this.db);
    return rows[0] && toDevice(rows[0]);
  }

  async list(filter: DeviceListFilter): Promise<ListedDevice[]> {
    const where = [sql`true`];
    if (filter.afterId !== undefined) where.push(sql`d.id > ${filter.afterId}`);
    if (filter.type !== undefined) where.push(sql`d.type = ${filter.type}`);
    if (filter.online !== undefined) where.push(sql`d.online = ${filter.online}`);
    if (filter.model !== undefined) where.push(sql`m.model_id = ${filter.model}`);
    if (filter.labels !== undefined && filter.labels.size > 0) {
      where.push(sql`d.labels @> ${jsonbSafe(JSON.stringify(Object.fromEntries(filter.labels)))}::jsonb`);
    }
    if (filter.q) {
      // SQLite's LIKE ignores ASCII case; ILIKE does too.
      const pattern = `%${escapeLike(filter.q)}%`;
      where.push(sql`(d.id ILIKE ${pattern} ESCAPE '\\' OR d.name ILIKE ${pattern} ESCAPE '\\')`);
    }
    const { rows } = await sql<DeviceRow & { model_id: string | null; model_version: number | null }>`SELECT
        d.id, d.name, d.type, d.labels, d.online, d.last_seen, d.created_at, d.updated_at, m.model_id, m.model_version
      FROM devices d LEFT JOIN device_models m ON m.device_id = d.id
      WHERE ${sql.join(where, sql` AND `)} ORDER BY d.id LIMIT ${filter.limit}`.execute(this.db);
    return rows.map((row) => ({
      ...toDevice(row),
      model: row.model_id === null || row.model_version === null ? null : { id: row.model_id, version: row.model_version },
    }));
  }

  async update(id: string, patch: DevicePatch, now: number): Promise<DeviceRecord | undefined> {
    const { rows } = await sql<DeviceRow>`UPDATE devices SET updated_at = ${now},
        name = COALESCE(${patch.name ?? null}::text, name),
        type = CASE WHEN ${patch.type !== undefined} THEN ${patch.type ?? null}::text ELSE type END,
        labels = COALESCE(${patch.labels === undefined ? null : jsonbSafe(JSON.stringify(patch.labels))}::jsonb, labels)
      WHERE id = ${id} RETURNING ${COLUMNS}`.execute(this.db);
    return rows[0] && toDevice(rows[0]);
  }

  async delete(id: string): Promise<boolean> {
    // One transaction; an ingest batch holding the device's row (FOR KEY SHARE) commits first, so its rows go too.
    const deleted = await this.db.transaction().execute(async (trx) => {
      const result = await sql`DELETE FROM devices WHERE id = ${id}`.execute(trx);
      if (Number(result.numAffectedRows ?? 0) === 0) return false;
      await sql`DELETE FROM command_transitions WHERE command_id IN (SELECT id FROM commands WHERE device_id = ${id})`.execute(
        trx,
      );
      for (const table of [
        'commands',
        'device_state',
        'latest',
        'telemetry_messages',
        'telemetry_1m',
        'telemetry_1h',
      ]) {
        await sql`DELETE FROM ${sql.table(table)} WHERE device_id = ${id}`.execute(trx);
      }
      return true;
    });
    if (deleted) this.telemetry.keys.forget(id);
    return deleted;
  }

  async getSecretHash(id: string): Promise<string | undefined> {
    const { rows } = await sql<{ secret_hash: string }>`SELECT secret_hash FROM devices WHERE id = ${id}`.execute(
      this.db,
    );
    return rows[0]?.secret_hash;
  }

  async setSecretHash(id: string, secretHash: string, now: number): Promise<boolean> {
    const result =
      await sql`UPDATE devices SET secret_hash = ${secretHash}, updated_at = ${now} WHERE id = ${id}`.execute(this.db);
    return Number(result.numAffectedRows ?? 0) > 0;
  }

  async allIds(): Promise<string[]> {
    const { rows } = await sql<{ id: string }>`SELECT id FROM devices`.execute(this.db);
    return rows.map((row) => row.id);
  }

  async onlineIds(): Promise<string[]> {
    const { rows } = await sql<{ id: string }>`SELECT id FROM devices WHERE online`.execute(this.db);
    return rows.map((row) => row.id);
  }

  async markAllOffline(): Promise<void> {
    await sql`UPDATE devices SET online = false WHERE online`.execute(this.db);
  }
}
