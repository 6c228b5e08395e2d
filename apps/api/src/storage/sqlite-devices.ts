import type BetterSqlite3 from 'better-sqlite3';
import { type Kysely, sql } from 'kysely';
import type { DeviceListFilter, DevicePatch, DeviceRecord, DeviceRepository, ListedDevice } from '../domain/devices';
import type { Database } from './schema';

type DeviceRow = Database['devices'];

function toDevice(row: Omit<DeviceRow, 'secret_hash'>): DeviceRecord {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    labels: JSON.parse(row.labels) as Record<string, string>,
    online: row.online === 1,
    lastSeen: row.last_seen,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const DEVICE_COLUMNS = ['id', 'name', 'type', 'labels', 'online', 'last_seen', 'created_at', 'updated_at'] as const;

/** What else goes with a device: each deletes its rows of the device, synchronously, inside the device's delete. */
export interface DeviceRowsElsewhere {
  deleteDevice(deviceId: string): void;
}

/** The device registry on SQLite. */
export class SqliteDevices implements DeviceRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly sqlite: BetterSqlite3.Database,
    /** The other nouns' rows of a device (telemetry, commands, state), deleted with it. */
    private readonly elsewhere: readonly DeviceRowsElsewhere[],
  ) {}

  async create(device: DeviceRecord, secretHash: string): Promise<boolean> {
    const result = await this.db
      .insertInto('devices')
      .values({
        id: device.id,
        name: device.name,
        type: device.type,
        labels: JSON.stringify(device.labels),
        secret_hash: secretHash,
        online: 0,
        last_seen: null,
        created_at: device.createdAt,
        updated_at: device.updatedAt,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async get(id: string): Promise<DeviceRecord | undefined> {
    const row = await this.db.selectFrom('devices').select(DEVICE_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toDevice(row);
  }

  async list(filter: DeviceListFilter): Promise<ListedDevice[]> {
    let query = this.db
      .selectFrom('devices')
      .leftJoin('device_models', 'device_models.device_id', 'devices.id')
      .select(DEVICE_COLUMNS.map((column) => `devices.${column}` as const))
      .select(['device_models.model_id', 'device_models.model_version'])
      .orderBy('devices.id')
      .limit(filter.limit);
    if (filter.afterId !== undefined) query = query.where('devices.id', '>', filter.afterId);
    if (filter.type !== undefined) query = query.where('devices.type', '=', filter.type);
    if (filter.online !== undefined) query = query.where('devices.online', '=', filter.online ? 1 : 0);
    if (filter.model !== undefined) query = query.where('device_models.model_id', '=', filter.model);
    // Keys match LABEL_KEY_PATTERN: no quote can end the path's quoted key.
    for (const [key, value] of filter.labels ?? []) {
      query = query.where(sql<string>`json_extract(devices.labels, ${`$."${key}"`})`, '=', value);
    }
    if (filter.q) {
      const pattern = `%${escapeLike(filter.q)}%`;
      query = query.where((eb) =>
        eb.or([
          sql<boolean>`${eb.ref('devices.id')} LIKE ${pattern} ESCAPE '\\'`,
          sql<boolean>`${eb.ref('devices.name')} LIKE ${pattern} ESCAPE '\\'`,
        ]),
      );
    }
    return (await query.execute()).map((row) => ({
      ...toDevice(row),
      model: row.model_id === null || row.model_version === null ? null : { id: row.model_id, version: row.model_version },
    }));
  }

  async update(id: string, patch: DevicePatch, now: number): Promise<DeviceRecord | undefined> {
    const result = await this.db
      .updateTable('devices')
      .set({
        updated_at: now,
        ...(patch.name !== undefined && { name: patch.name }),
        ...(patch.type !== undefined && { type: patch.type }),
        ...(patch.labels !== undefined && { labels: JSON.stringify(patch.labels) }),
      })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0 ? this.get(id) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    // Synchronous, so that no inline ingest transaction can land inside it (see SqliteCommands);
    // events of the device still queued are not stored after it (see SqliteEventWriter).
    return this.sqlite
      .transaction(() => {
        if (this.sqlite.prepare('DELETE FROM devices WHERE id = ?').run(id).changes === 0) return false;
        for (const rows of this.elsewhere) rows.deleteDevice(id);
        return true;
      })
      .immediate();
  }

  async getSecretHash(id: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('devices').select('secret_hash').where('id', '=', id).executeTakeFirst();
    return row?.secret_hash;
  }

  async setSecretHash(id: string, secretHash: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('devices')
      .set({ secret_hash: secretHash, updated_at: now })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async allIds(): Promise<string[]> {
    return (await this.db.selectFrom('devices').select('id').execute()).map((r) => r.id);
  }

  async onlineIds(): Promise<string[]> {
    return (await this.db.selectFrom('devices').select('id').where('online', '=', 1).execute()).map((r) => r.id);
  }

  async markAllOffline(): Promise<void> {
    await this.db.updateTable('devices').set({ online: 0 }).where('online', '=', 1).execute();
  }
}
