import { Controller, Get, HttpCode, Inject, Post, Query, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { createZodDto } from 'nestjs-zod';
import { type BrokerInfo, type BrokerSyncResponse, brokerSyncQuerySchema } from '@iot/protocol';
import { APP_CONFIG, type AppConfig } from '../../../platform/config/config';
import { RequireRole } from '../auth/decorators';
import { ApiErrors, BrokerInfoDto, BrokerSyncResponseDto } from '../docs/api-responses';
import { DeviceTransport } from '../../../core/device-transport';
import { DevicesService } from '../../../core/devices/devices.service';
import { Audited } from '../audit/audited';

class BrokerSyncQueryDto extends createZodDto(brokerSyncQuerySchema) {}

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
    private readonly devices: DevicesService,
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

  @Audited({ action: 'broker.sync', detail: (req) => (req.query['rotate'] === 'true' ? 'rotate' : undefined) })
  @Post('sync')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({
    summary:
      "Make the broker's device clients (dynamic security) match the api's devices; rotate=true gives the ones it lacked new secrets",
  })
  @ApiOkResponse({ type: BrokerSyncResponseDto })
  @ApiErrors(400, 401, 403, [409, 'MQTT_DYNSEC is off'], [503, 'The broker refused or did not answer'])
  sync(@Query() query: BrokerSyncQueryDto): Promise<BrokerSyncResponse> {
    return this.devices.syncBroker(query.rotate ?? false);
  }
}
