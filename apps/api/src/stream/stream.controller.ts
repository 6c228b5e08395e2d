import { BadRequestException, Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { DEVICE_EVENT_NAMES, type DeviceEventName, isDeviceEventName, isDeviceId } from '@iot/protocol';
import { CurrentUser, type AuthUser } from '../auth/decorators';
import { StreamHub } from './stream-hub.service';

function csv(value: string | undefined): string[] | undefined {
  if (value === undefined || value === '') return undefined;
  return value.split(',').map((v) => v.trim()).filter((v) => v.length > 0);
}

@ApiTags('stream')
@Controller('stream')
export class StreamController {
  constructor(private readonly hub: StreamHub) {}

  /**
   * The live event stream. Written to the raw response rather than through
   * `@Sse()`: each event is serialised once for every client, ids come from
   * the event log, and back-pressure is judged on the socket itself.
   */
  @Get()
  @ApiOperation({ summary: 'Server-Sent Events: telemetry, status, state, command and reset events' })
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'devices', required: false, description: 'comma-separated device ids' })
  @ApiQuery({ name: 'events', required: false, description: `comma-separated: ${DEVICE_EVENT_NAMES.join(', ')}` })
  @ApiQuery({ name: 'lastEventId', required: false, description: 'resume after this id (the Last-Event-ID header wins)' })
  async stream(
    @Req() req: Request,
    @Res() res: Response,
    @CurrentUser() user: AuthUser,
    @Query('devices') devices?: string,
    @Query('events') events?: string,
    @Query('lastEventId') lastEventIdQuery?: string,
    @Headers('last-event-id') lastEventIdHeader?: string,
  ): Promise<void> {
    const deviceIds = csv(devices);
    if (deviceIds && (deviceIds.length > 1000 || !deviceIds.every(isDeviceId))) {
      throw new BadRequestException('devices must be a comma-separated list of at most 1000 device ids');
    }
    const types = csv(events);
    if (types && !types.every(isDeviceEventName)) {
      throw new BadRequestException(`events may list ${DEVICE_EVENT_NAMES.join(', ')}`);
    }
    req.socket.setKeepAlive(true);
    await this.hub.open(res, {
      username: user.username,
      deviceIds: deviceIds && new Set(deviceIds),
      types: types && new Set(types as DeviceEventName[]),
      lastEventId: lastEventIdHeader || lastEventIdQuery || undefined,
    });
  }
}
