import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import {
  type DeliveryStatus,
  MAX_WEBHOOKS,
  type WebhookInput,
  type WebhookPingPayload,
  type WebhookTestResult,
  webhookInputSchema,
} from '@iot/protocol';
import { DomainError } from '../../domain/errors';
import { type DeliveryRecord, type WebhookRecord, WebhookRepository } from '../../domain/webhooks';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { signedHeaders } from './webhook-dispatcher.service';
import { WebhookSender } from './webhook-sender';

/** A new signing secret: 32 random bytes, base64url. */
function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Webhooks: where alarm notifications go, each with its own signing secret. */
@Injectable()
export class WebhooksService {
  constructor(
    private readonly webhooks: WebhookRepository,
    private readonly sender: WebhookSender,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  list(): Promise<WebhookRecord[]> {
    return this.webhooks.list();
  }

  async get(id: string): Promise<WebhookRecord> {
    const webhook = await this.webhooks.get(id);
    if (!webhook) throw new DomainError('not_found', `no webhook ${id}`);
    return webhook;
  }

  /** Makes a webhook with a new secret (the answer is the one place it is shown). */
  async create(input: WebhookInput, by: string): Promise<WebhookRecord> {
    // Checked before the insert: replicas creating the last one at the same moment may pass it by one each.
    if ((await this.webhooks.count()) >= MAX_WEBHOOKS) {
      throw new DomainError('conflict', `there are ${MAX_WEBHOOKS} webhooks already, the most there may be`);
    }
    const now = Date.now();
    const webhook: WebhookRecord = {
      id: uuidv7(),
      ...fieldsOf(input),
      secret: newSecret(),
      createdBy: by,
      createdAt: now,
      updatedAt: now,
    };
    await this.webhooks.insert(webhook);
    return webhook;
  }

  /** Replaces a webhook's settings; its secret stays. */
  async update(id: string, input: WebhookInput): Promise<WebhookRecord> {
    const webhook = { ...(await this.get(id)), ...fieldsOf(input), updatedAt: Date.now() };
    if (!(await this.webhooks.update(webhook))) throw new DomainError('not_found', `no webhook ${id}`);
    return webhook;
  }

  async delete(id: string): Promise<void> {
    if (!(await this.webhooks.delete(id))) throw new DomainError('not_found', `no webhook ${id}`);
  }

  /** Gives a webhook a new secret; requests are signed with it from now on, pending retries included. */
  async rotateSecret(id: string): Promise<WebhookRecord> {
    const webhook = { ...(await this.get(id)), secret: newSecret(), updatedAt: Date.now() };
    if (!(await this.webhooks.update(webhook))) throw new DomainError('not_found', `no webhook ${id}`);
    return webhook;
  }

  /** A page of a webhook's delivery log, newest first. */
  async deliveries(
    id: string,
    filter: { status?: DeliveryStatus; beforeId?: string; limit: number },
  ): Promise<DeliveryRecord[]> {
    await this.get(id);
    return this.webhooks.deliveries(id, filter);
  }

  /** Sends a signed ping to a webhook, now, whether or not it is enabled; not retried, not in the log. */
  async test(id: string): Promise<WebhookTestResult> {
    const webhook = await this.get(id);
    const now = Date.now();
    const ping: WebhookPingPayload = { type: 'ping', deliveryId: uuidv7(), webhookId: webhook.id, ts: now };
    const body = JSON.stringify(ping);
    const headers = signedHeaders(webhook.secret, body, ping.deliveryId, 'ping', now);
    const result = await this.sender.send(webhook.url, body, headers, this.config.webhookTimeoutMs);
    return { delivered: result.ok, statusCode: result.statusCode, error: result.error };
  }
}

function fieldsOf(input: WebhookInput): Pick<WebhookRecord, 'name' | 'url' | 'minSeverity' | 'ruleIds' | 'enabled'> {
  const parsed = webhookInputSchema.parse(input);
  return {
    name: parsed.name,
    url: parsed.url,
    minSeverity: parsed.minSeverity ?? null,
    ruleIds: parsed.ruleIds === undefined ? null : [...new Set(parsed.ruleIds)],
    enabled: parsed.enabled,
  };
}
