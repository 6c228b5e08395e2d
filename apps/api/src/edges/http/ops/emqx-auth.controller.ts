import { createHash, timingSafeEqual } from 'node:crypto';
import {
  Body,
  Controller,
  Headers,
  HttpCode,
  Inject,
  NotFoundException,
  Post,
  UnauthorizedException,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import {
  type EmqxAuthResult,
  devicePublishAllowed,
  deviceSubscriptionAllowed,
  emqxAuthenticationRequestSchema,
  emqxAuthorizationRequestSchema,
  isDeviceId,
} from '@iot/protocol';
import { APP_CONFIG, type AppConfig } from '../../../platform/config/config';
import { Public } from '../auth/decorators';
import { DeviceAuthService } from '../../../core/devices/device-auth.service';

/** The header EMQX is configured to send with the shared secret (EMQX_AUTH_SECRET). */
export const EMQX_SECRET_HEADER = 'x-emqx-secret';

const DENY: EmqxAuthResult = { result: 'deny' };

function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * EMQX's HTTP authentication and authorisation, for devices on an EMQX broker:
 * a device logs in with its id as client id and username and its secret
 * (checked and throttled as on the embedded broker), and touches its own
 * topics only (the embedded broker's ACL). The api's own broker user
 * (MQTT_USERNAME) is a superuser. Every answer is HTTP 200, so EMQX never
 * falls through to another authenticator for a device; off (404) unless
 * EMQX_AUTH_SECRET is set, and only callers sending it are answered.
 */
@ApiExcludeController()
@Public()
@Controller('broker/emqx')
export class EmqxAuthController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly auth: DeviceAuthService,
  ) {}

  @Post('authenticate')
  @HttpCode(200)
  async authenticate(@Headers(EMQX_SECRET_HEADER) secret: unknown, @Body() body: unknown): Promise<EmqxAuthResult> {
    this.checkCaller(secret);
    const request = emqxAuthenticationRequestSchema.safeParse(body);
    if (!request.success) return DENY;
    const { clientid, username, password, peerhost } = request.data;
    if (this.config.mqttUsername !== undefined && username === this.config.mqttUsername) {
      if (this.config.mqttPassword === undefined) return { result: 'ignore' };
      return password !== undefined && sameSecret(password, this.config.mqttPassword)
        ? { result: 'allow', is_superuser: true }
        : DENY;
    }
    // Client id = username = device id, as on the embedded broker.
    if (username !== clientid || !isDeviceId(clientid) || password === undefined) return DENY;
    const outcome = await this.auth.authenticate(clientid, Buffer.from(password, 'utf8'), peerhost);
    return outcome === 'ok' ? { result: 'allow', is_superuser: false } : DENY;
  }

  @Post('authorize')
  @HttpCode(200)
  authorize(@Headers(EMQX_SECRET_HEADER) secret: unknown, @Body() body: unknown): EmqxAuthResult {
    this.checkCaller(secret);
    const request = emqxAuthorizationRequestSchema.safeParse(body);
    if (!request.success) return DENY;
    const { clientid, username, topic, action } = request.data;
    if (this.config.mqttUsername !== undefined && username === this.config.mqttUsername) return { result: 'allow' };
    if (username !== clientid) return DENY;
    const allowed =
      action === 'publish' ? devicePublishAllowed(clientid, topic) : deviceSubscriptionAllowed(clientid, topic);
    return allowed ? { result: 'allow' } : DENY;
  }

  private checkCaller(secret: unknown): void {
    const expected = this.config.emqxAuthSecret;
    if (expected === undefined) throw new NotFoundException();
    if (typeof secret !== 'string' || !sameSecret(secret, expected)) throw new UnauthorizedException();
  }
}
