import { Controller, Get, Inject, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import type { BrokerInfo } from '@iot/protocol';
import { APP_CONFIG, type AppConfig } from '../../../platform/config/config';
import { ApiErrors, BrokerInfoDto } from '../docs/api-responses';
import { DeviceTransport } from '../../../core/device-transport';

/**
 * Where devices reach the broker: MQTT_PUBLIC_URL when set; else, for the
 * embedded broker, the host the request came to (the one the browser knows
 * the platform by) and the broker's port; else the external broker's URL as
 * the api reaches it, without its credentials.
 */
export function brokerInfo(options: {
  publicUrl: string | undefined;
  externalUrl: string | undefined;
  embeddedPort: number | undefined;
  requestHost: string | undefined;
}): BrokerInfo {
  if (options.publicUrl !== undefined) return { url: options.publicUrl, derived: false };
  if (options.externalUrl !== undefined) {
    const url = new URL(options.externalUrl);
    url.username = '';
    url.password = '';
    return { url: url.href.replace(/\/$/, ''), derived: true };
  }
  return { url: `mqtt://${options.requestHost || 'localhost'}:${options.embeddedPort ?? 1883}`, derived: true };
}

@ApiTags('devices')
@Controller('broker')
export class BrokerController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly transport: DeviceTransport,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Where devices reach the MQTT broker (MQTT_PUBLIC_URL, or worked out)' })
  @ApiOkResponse({ type: BrokerInfoDto })
  @ApiErrors(401)
  get(@Req() request: Request): BrokerInfo {
    return brokerInfo({
      publicUrl: this.config.mqttPublicUrl,
      externalUrl: this.config.mqttUrl,
      embeddedPort: this.transport.port,
      requestHost: request.hostname,
    });
  }
}
