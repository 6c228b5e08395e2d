import * as z from 'zod';

/**
 * `POST /broker/sync` (admin): brings the broker's device clients in line with
 * the api's devices. With `rotate=true`, devices the broker lacked get a new
 * secret, answered once.
 */
export const brokerSyncQuerySchema = z.object({
  rotate: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
});
export type BrokerSyncQuery = z.infer<typeof brokerSyncQuerySchema>;

export const brokerSyncResponseSchema = z.object({
  created: z.array(z.string()).describe('Devices the broker lacked: created, disabled until their secret is rotated'),
  deleted: z.array(z.string()).describe('Broker clients of devices the api does not know: deleted'),
  repaired: z.array(z.string()).describe('Devices whose own role was missing: restored'),
  credentials: z
    .array(z.object({ username: z.string(), password: z.string() }))
    .describe('With rotate=true: the new secrets of the created devices, shown once'),
});
export type BrokerSyncResponse = z.infer<typeof brokerSyncResponseSchema>;

/** Bounds on what EMQX may send; a device's fields are far smaller. */
const field = (max: number) => z.string().max(max);

/**
 * What EMQX's HTTP authenticator posts, with the body template
 * `{"clientid": "${clientid}", "username": "${username}", "password": "${password}", "peerhost": "${peerhost}"}`.
 */
export const emqxAuthenticationRequestSchema = z.object({
  clientid: field(256),
  username: field(256).optional(),
  password: field(512).optional(),
  peerhost: field(64).optional(),
});
export type EmqxAuthenticationRequest = z.infer<typeof emqxAuthenticationRequestSchema>;

/**
 * What EMQX's HTTP authoriser posts, with the body template
 * `{"clientid": "${clientid}", "username": "${username}", "topic": "${topic}", "action": "${action}"}`.
 */
export const emqxAuthorizationRequestSchema = z.object({
  clientid: field(256),
  username: field(256).optional(),
  topic: field(65_535),
  action: z.enum(['publish', 'subscribe']),
});
export type EmqxAuthorizationRequest = z.infer<typeof emqxAuthorizationRequestSchema>;

/** The answer EMQX reads (HTTP 200): `allow`, `deny`, or `ignore` (the next authenticator decides). */
export const emqxAuthResultSchema = z.object({
  result: z.enum(['allow', 'deny', 'ignore']),
  is_superuser: z.boolean().optional(),
});
export type EmqxAuthResult = z.infer<typeof emqxAuthResultSchema>;
