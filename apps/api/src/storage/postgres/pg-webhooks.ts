import { type Kysely, sql } from 'kysely';
import type {
  AttemptOutcome,
  DeliveryFilter,
  DeliveryRecord,
  NewDelivery,
  WebhookRecord,
  WebhookRepository,
} from '../../domain/webhooks';

const WEBHOOK_COLUMNS = sql`id, name, url, secret, min_severity AS "minSeverity", rule_ids AS "ruleIds", enabled,
  created_by AS "createdBy", created_at AS "createdAt", updated_at AS "updatedAt"`;
const DELIVERY_COLUMNS = sql`id, webhook_id AS "webhookId", seq, event, alarm_id AS "alarmId", data, status, attempts,
  last_status_code AS "lastStatusCode", last_error AS "lastError", next_attempt_at AS "nextAttemptAt",
  lease_until AS "leaseUntil", created_at AS "createdAt", delivered_at AS "deliveredAt"`;

/** Webhooks and their delivery log on PostgreSQL. */
export class PgWebhooks implements WebhookRepository {
  constructor(private readonly db: Kysely<unknown>) {}

  async list(): Promise<WebhookRecord[]> {
    const { rows } = await sql<WebhookRecord>`SELECT ${WEBHOOK_COLUMNS} FROM webhooks
      ORDER BY created_at, id`.execute(this.db);
    return rows;
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    const { rows } = await sql<WebhookRecord>`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = ${id}`.execute(
      this.db,
    );
    return rows[0];
  }

  async count(): Promise<number> {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM webhooks`.execute(this.db);
    return rows[0].n;
  }

  async insert(w: WebhookRecord): Promise<void> {
    await sql`INSERT INTO webhooks (id, name, url, secret, min_severity, rule_ids, enabled, created_by, created_at,
        updated_at)
      VALUES (${w.id}, ${w.name}, ${w.url}, ${w.secret}, ${w.minSeverity}, ${ruleIdsJson(w)}::jsonb, ${w.enabled},
        ${w.createdBy}, ${w.createdAt}, ${w.updatedAt})`.execute(this.db);
  }

  async update(w: WebhookRecord): Promise<boolean> {
    const { numAffectedRows } = await sql`UPDATE webhooks SET name = ${w.name}, url = ${w.url}, secret = ${w.secret},
        min_severity = ${w.minSeverity}, rule_ids = ${ruleIdsJson(w)}::jsonb, enabled = ${w.enabled},
        updated_at = ${w.updatedAt}
      WHERE id = ${w.id}`.execute(this.db);
    return Number(numAffectedRows ?? 0) > 0;
  }

  async delete(id: string): Promise<boolean> {
    // Its deliveries go with it (ON DELETE CASCADE).
    const { numAffectedRows } = await sql`DELETE FROM webhooks WHERE id = ${id}`.execute(this.db);
    return Number(numAffectedRows ?? 0) > 0;
  }

  async addDeliveries(deliveries: NewDelivery[]): Promise<number> {
    if (deliveries.length === 0) return 0;
    const rows = deliveries.map(
      (d) => sql`(${d.id}, ${d.webhookId}, ${d.seq}::bigint, ${d.event}, ${d.alarmId}::text, ${d.data}, 'pending', 0,
        ${d.createdAt}::bigint, 0::bigint, ${d.createdAt}::bigint)`,
    );
    // A webhook deleted meanwhile: its rows are skipped rather than failing the others.
    const { numAffectedRows } = await sql`INSERT INTO webhook_deliveries (id, webhook_id, seq, event, alarm_id, data,
        status, attempts, next_attempt_at, lease_until, created_at)
      SELECT v.* FROM (VALUES ${sql.join(rows)}) AS v (id, webhook_id, seq, event, alarm_id, data, status, attempts,
        next_attempt_at, lease_until, created_at)
      WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.id = v.webhook_id)
      ON CONFLICT (webhook_id, seq) DO NOTHING`.execute(this.db);
    return Number(numAffectedRows ?? 0);
  }

  async due(now: number, limit: number): Promise<DeliveryRecord[]> {
    const { rows } = await sql<DeliveryRecord>`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries
      WHERE status = 'pending' AND next_attempt_at <= ${now} AND lease_until <= ${now}
      ORDER BY next_attempt_at, id LIMIT ${limit}`.execute(this.db);
    return rows;
  }

  async claim(id: string, now: number, leaseUntil: number): Promise<boolean> {
    const { numAffectedRows } = await sql`UPDATE webhook_deliveries
      SET lease_until = ${leaseUntil}, attempts = attempts + 1
      WHERE id = ${id} AND status = 'pending' AND next_attempt_at <= ${now} AND lease_until <= ${now}`.execute(this.db);
    return Number(numAffectedRows ?? 0) > 0;
  }

  async settle(id: string, leaseUntil: number, o: AttemptOutcome): Promise<boolean> {
    const { numAffectedRows } = await sql`UPDATE webhook_deliveries
      SET status = ${o.status}, last_status_code = ${o.lastStatusCode}, last_error = ${o.lastError},
        next_attempt_at = ${o.nextAttemptAt}, delivered_at = ${o.deliveredAt}, lease_until = 0
      WHERE id = ${id} AND status = 'pending' AND lease_until = ${leaseUntil}`.execute(this.db);
    return Number(numAffectedRows ?? 0) > 0;
  }

  async deliveries(webhookId: string, filter: DeliveryFilter): Promise<DeliveryRecord[]> {
    const where = [sql`webhook_id = ${webhookId}`];
    if (filter.status !== undefined) where.push(sql`status = ${filter.status}`);
    if (filter.beforeId !== undefined) where.push(sql`id < ${filter.beforeId}`);
    const { rows } = await sql<DeliveryRecord>`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries
      WHERE ${sql.join(where, sql` AND `)} ORDER BY id DESC LIMIT ${filter.limit}`.execute(this.db);
    return rows;
  }

  async capPending(webhookId: string, keep: number, reason: string): Promise<number> {
    const { numAffectedRows } = await sql`UPDATE webhook_deliveries
      SET status = 'failed', last_error = ${reason}, next_attempt_at = NULL, lease_until = 0
      WHERE webhook_id = ${webhookId} AND status = 'pending' AND id NOT IN (
        SELECT id FROM webhook_deliveries WHERE webhook_id = ${webhookId} AND status = 'pending'
        ORDER BY id DESC LIMIT ${keep})`.execute(this.db);
    return Number(numAffectedRows ?? 0);
  }

  async prune(before: number): Promise<number> {
    const { numAffectedRows } = await sql`DELETE FROM webhook_deliveries
      WHERE created_at < ${before} AND status <> 'pending'`.execute(this.db);
    return Number(numAffectedRows ?? 0);
  }
}

function ruleIdsJson(w: WebhookRecord): string | null {
  return w.ruleIds === null ? null : JSON.stringify(w.ruleIds);
}
