import { type Kysely, type Selectable, sql } from 'kysely';
import type { AlarmSeverity, DeliveryStatus } from '@iot/protocol';
import type {
  AttemptOutcome,
  DeliveryFilter,
  DeliveryRecord,
  NewDelivery,
  WebhookRecord,
  WebhookRepository,
} from '../domain/webhooks';
import type { Database } from './schema';

type WebhookRow = Selectable<Database['webhooks']>;
type DeliveryRow = Selectable<Database['webhook_deliveries']>;

function webhookOf(row: WebhookRow): WebhookRecord {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    secret: row.secret,
    minSeverity: row.min_severity as AlarmSeverity | null,
    ruleIds: row.rule_ids === null ? null : (JSON.parse(row.rule_ids) as string[]),
    enabled: row.enabled === 1,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function rowOf(webhook: WebhookRecord): WebhookRow {
  return {
    id: webhook.id,
    name: webhook.name,
    url: webhook.url,
    secret: webhook.secret,
    min_severity: webhook.minSeverity,
    rule_ids: webhook.ruleIds === null ? null : JSON.stringify(webhook.ruleIds),
    enabled: webhook.enabled ? 1 : 0,
    created_by: webhook.createdBy,
    created_at: webhook.createdAt,
    updated_at: webhook.updatedAt,
  };
}

function deliveryOf(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    seq: row.seq,
    event: row.event,
    alarmId: row.alarm_id,
    data: row.data,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at,
    leaseUntil: row.lease_until,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}

/** Webhooks and their delivery log on SQLite. */
export class SqliteWebhooks implements WebhookRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<WebhookRecord[]> {
    const rows = await this.db.selectFrom('webhooks').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(webhookOf);
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    const row = await this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    return row && webhookOf(row);
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('webhooks')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async insert(webhook: WebhookRecord): Promise<void> {
    await this.db.insertInto('webhooks').values(rowOf(webhook)).execute();
  }

  async update(webhook: WebhookRecord): Promise<boolean> {
    const { name, url, secret, min_severity, rule_ids, enabled, updated_at } = rowOf(webhook);
    const result = await this.db
      .updateTable('webhooks')
      .set({ name, url, secret, min_severity, rule_ids, enabled, updated_at })
      .where('id', '=', webhook.id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async delete(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute();
      const result = await trx.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  async addDeliveries(deliveries: NewDelivery[]): Promise<number> {
    if (deliveries.length === 0) return 0;
    return this.db.transaction().execute(async (trx) => {
      // A webhook deleted meanwhile: its rows are skipped rather than left without it.
      const ids = [...new Set(deliveries.map((d) => d.webhookId))];
      const held = await trx.selectFrom('webhooks').select('id').where('id', 'in', ids).execute();
      const live = new Set(held.map((row) => row.id));
      const rows = deliveries.filter((d) => live.has(d.webhookId));
      if (rows.length === 0) return 0;
      const result = await trx
        .insertInto('webhook_deliveries')
        .values(
          rows.map((d) => ({
            id: d.id,
            webhook_id: d.webhookId,
            seq: d.seq,
            event: d.event,
            alarm_id: d.alarmId,
            data: d.data,
            status: 'pending',
            attempts: 0,
            last_status_code: null,
            last_error: null,
            next_attempt_at: d.createdAt,
            lease_until: 0,
            created_at: d.createdAt,
            delivered_at: null,
          })),
        )
        .onConflict((oc) => oc.columns(['webhook_id', 'seq']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0);
    });
  }

  async due(now: number, limit: number): Promise<DeliveryRecord[]> {
    const rows = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where('lease_until', '<=', now)
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(deliveryOf);
  }

  async claim(id: string, now: number, leaseUntil: number): Promise<boolean> {
    const result = await this.db
      .updateTable('webhook_deliveries')
      .set({ lease_until: leaseUntil, attempts: sql`attempts + 1` })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where('lease_until', '<=', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async settle(id: string, leaseUntil: number, outcome: AttemptOutcome): Promise<boolean> {
    const result = await this.db
      .updateTable('webhook_deliveries')
      .set({
        status: outcome.status,
        last_status_code: outcome.lastStatusCode,
        last_error: outcome.lastError,
        next_attempt_at: outcome.nextAttemptAt,
        delivered_at: outcome.deliveredAt,
        lease_until: 0,
      })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('lease_until', '=', leaseUntil)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deliveries(webhookId: string, filter: DeliveryFilter): Promise<DeliveryRecord[]> {
    let query = this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('webhook_id', '=', webhookId)
      .orderBy('id', 'desc')
      .limit(filter.limit);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.beforeId !== undefined) query = query.where('id', '<', filter.beforeId);
    return (await query.execute()).map(deliveryOf);
  }

  async capPending(webhookId: string, keep: number, reason: string): Promise<number> {
    const result = await this.db
      .updateTable('webhook_deliveries')
      .set({ status: 'failed', last_error: reason, next_attempt_at: null, lease_until: 0 })
      .where('webhook_id', '=', webhookId)
      .where('status', '=', 'pending')
      .where('id', 'not in', (eb) =>
        eb
          .selectFrom('webhook_deliveries')
          .select('id')
          .where('webhook_id', '=', webhookId)
          .where('status', '=', 'pending')
          .orderBy('id', 'desc')
          .limit(keep),
      )
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async prune(before: number): Promise<number> {
    const result = await this.db
      .deleteFrom('webhook_deliveries')
      .where('created_at', '<', before)
      .where('status', '!=', 'pending')
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
