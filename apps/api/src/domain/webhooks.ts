import type { AlarmSeverity, DeliveryStatus } from '@iot/protocol';

/** A webhook as stored, its signing secret included (never shown after it is made). */
export interface WebhookRecord {
  id: string;
  name: string;
  url: string;
  secret: string;
  minSeverity: AlarmSeverity | null;
  ruleIds: string[] | null;
  enabled: boolean;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

/** One event to send to one webhook, and how its sending went. */
export interface DeliveryRecord {
  id: string;
  webhookId: string;
  /** The event's seq in the event log: with the webhook, what makes a delivery unique. */
  seq: number;
  event: string;
  alarmId: string | null;
  /** The event's data (JSON), sent as it is. */
  data: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  /** When the next attempt is due (epoch ms); null once delivered or failed. */
  nextAttemptAt: number | null;
  /** Until when a replica holds the delivery to send it (epoch ms); 0 when none does. */
  leaseUntil: number;
  createdAt: number;
  deliveredAt: number | null;
}

export type NewDelivery = Pick<DeliveryRecord, 'id' | 'webhookId' | 'seq' | 'event' | 'alarmId' | 'data' | 'createdAt'>;

/** How an attempt ended, written only by the replica holding the lease it was made under. */
export interface AttemptOutcome {
  status: DeliveryStatus;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: number | null;
  deliveredAt: number | null;
}

export interface DeliveryFilter {
  status?: DeliveryStatus;
  /** Deliveries with a smaller id (older) than this. */
  beforeId?: string;
  limit: number;
}

/** Webhooks and their delivery log. */
export abstract class WebhookRepository {
  abstract list(): Promise<WebhookRecord[]>;
  abstract get(id: string): Promise<WebhookRecord | undefined>;
  abstract count(): Promise<number>;
  abstract insert(webhook: WebhookRecord): Promise<void>;
  /** Replaces a webhook's fields (not its creation); false when there is none. */
  abstract update(webhook: WebhookRecord): Promise<boolean>;
  /** Deletes a webhook with its deliveries; false when there is none. */
  abstract delete(id: string): Promise<boolean>;

  /** Stores deliveries as pending, due now; one already stored for the same webhook and seq is left as it is. */
  abstract addDeliveries(deliveries: NewDelivery[]): Promise<number>;
  /** Pending deliveries due at `now` and held by no replica, oldest first, at most `limit`. */
  abstract due(now: number, limit: number): Promise<DeliveryRecord[]>;
  /**
   * Takes a delivery to send: true when it was pending, due and held by no
   * replica at `now`; it is then held until `leaseUntil`, its attempts counted.
   */
  abstract claim(id: string, now: number, leaseUntil: number): Promise<boolean>;
  /** Records an attempt's outcome and frees the delivery; false (nothing written) when the lease was lost. */
  abstract settle(id: string, leaseUntil: number, outcome: AttemptOutcome): Promise<boolean>;
  /** A webhook's deliveries, newest first. */
  abstract deliveries(webhookId: string, filter: DeliveryFilter): Promise<DeliveryRecord[]>;
  /** Gives up a webhook's oldest pending deliveries past the newest `keep` as failed with `reason`; returns how many. */
  abstract capPending(webhookId: string, keep: number, reason: string): Promise<number>;
  /** Removes deliveries made before `before` that are no longer pending; returns how many. */
  abstract prune(before: number): Promise<number>;
}
