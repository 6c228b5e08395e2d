import { createHmac } from 'node:crypto';

/**
 * The `X-Iot-Signature` header of a webhook request (the Stripe scheme):
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the webhook's
 * secret. The timestamp is signed with the body, so a receiver that checks
 * both the signature and the timestamp's age refuses a replayed request.
 */
export function webhookSignature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}
