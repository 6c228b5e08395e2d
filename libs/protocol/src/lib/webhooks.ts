import * as z from 'zod';
import { type AlarmEvent, alarmSeveritySchema } from './alarms';

/** Webhooks at most. */
export const MAX_WEBHOOKS = 100;
/** A webhook's name, characters at most. */
export const MAX_WEBHOOK_NAME = 128;
/** A webhook's URL, characters at most. */
export const MAX_WEBHOOK_URL = 2048;
/** Alarm rules one webhook may be limited to, at most. */
export const MAX_WEBHOOK_RULES = 100;
/** Attempts per delivery at most; after the last one fails the delivery is `failed`. */
export const MAX_WEBHOOK_ATTEMPTS = 8;
/** Pending deliveries per webhook at most: past it the oldest are given up as `failed`. */
export const MAX_PENDING_DELIVERIES = 10_000;
/** How long the delivery log is kept, days. */
export const WEBHOOK_DELIVERY_RETENTION_DAYS = 30;
/** How old a signature's timestamp a receiver should accept, seconds (a suggestion: the receiver decides). */
export const WEBHOOK_SIGNATURE_TOLERANCE_S = 300;

export const webhookUrlSchema = z
  .string()
  .max(MAX_WEBHOOK_URL)
  .refine((value) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return false;
    }
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '';
  }, 'an http or https URL without user or password');

/**
 * `POST /webhooks` and `PUT /webhooks/{id}`: where alarm notifications go.
 * A webhook gets an alarm's transitions at `minSeverity` or worse (all when
 * absent), of the rules in `ruleIds` (all when absent).
 */
export const webhookInputSchema = z.object({
  name: z.string().trim().min(1).max(MAX_WEBHOOK_NAME),
  url: webhookUrlSchema,
  minSeverity: alarmSeveritySchema.optional(),
  ruleIds: z.array(z.string().min(1).max(64)).max(MAX_WEBHOOK_RULES).optional(),
  enabled: z.boolean().default(true),
});
export type WebhookInput = z.input<typeof webhookInputSchema>;

export const webhookViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  minSeverity: alarmSeveritySchema.nullable(),
  ruleIds: z.array(z.string()).nullable(),
  enabled: z.boolean(),
  createdBy: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
/** A webhook as `GET /webhooks` shows it: never its secret. */
export type WebhookView = z.infer<typeof webhookViewSchema>;

export const webhookWithSecretSchema = webhookViewSchema.extend({
  /** The signing secret: shown once, by `POST /webhooks` and `POST /webhooks/{id}/rotate-secret`. */
  secret: z.string(),
});
export type WebhookWithSecret = z.infer<typeof webhookWithSecretSchema>;

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export const deliveryStatusSchema = z.enum(DELIVERY_STATUSES);
export type DeliveryStatus = z.infer<typeof deliveryStatusSchema>;

export const webhookDeliverySchema = z.object({
  id: z.string(),
  webhookId: z.string(),
  /** The event's seq in the event log. */
  seq: z.number(),
  event: z.string(),
  alarmId: z.string().nullable(),
  status: deliveryStatusSchema,
  attempts: z.number(),
  lastStatusCode: z.number().nullable(),
  lastError: z.string().nullable(),
  nextAttemptAt: z.number().nullable(),
  createdAt: z.number(),
  deliveredAt: z.number().nullable(),
});
export type WebhookDeliveryView = z.infer<typeof webhookDeliverySchema>;

export const listDeliveriesQuerySchema = z.object({
  status: deliveryStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z
    .string()
    .regex(/^[0-9a-f-]{36}$/, 'a cursor from nextCursor')
    .optional(),
});
export type ListDeliveriesQuery = z.infer<typeof listDeliveriesQuerySchema>;

export const deliveryListResponseSchema = z.object({
  items: z.array(webhookDeliverySchema),
  nextCursor: z.string().nullable(),
});
/** `GET /webhooks/{id}/deliveries`: newest first, one page. */
export type DeliveryListResponse = z.infer<typeof deliveryListResponseSchema>;

export const webhookTestResultSchema = z.object({
  delivered: z.boolean(),
  statusCode: z.number().nullable(),
  error: z.string().nullable(),
});
/** `POST /webhooks/{id}/test`: what the receiver answered to a signed ping. */
export type WebhookTestResult = z.infer<typeof webhookTestResultSchema>;

/** The body a webhook receives for an alarm transition (`X-Iot-Event: alarm`). */
export interface WebhookAlarmPayload {
  type: 'alarm';
  deliveryId: string;
  seq: number;
  alarm: AlarmEvent;
}

/** The body of `POST /webhooks/{id}/test` (`X-Iot-Event: ping`). */
export interface WebhookPingPayload {
  type: 'ping';
  deliveryId: string;
  webhookId: string;
  ts: number;
}

/** The headers of every webhook request. */
export const WEBHOOK_HEADERS = {
  delivery: 'X-Iot-Delivery',
  event: 'X-Iot-Event',
  /** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
  signature: 'X-Iot-Signature',
} as const;
