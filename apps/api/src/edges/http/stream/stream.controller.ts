import { BadRequestException, Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { DEVICE_EVENT_NAMES } from '@iot/protocol';
import type { AuthUser } from '../../../core/auth/auth-user';
import { CurrentUser } from '../auth/decorators';
import { ApiErrors } from '../docs/api-responses';
import { StreamHub } from './stream-hub.service';
import { lastEventIdOf, parseStreamFilters } from './stream-query';

@ApiTags('stream')
@Controller('stream')
export class StreamController {
  constructor(private readonly hub: StreamHub) {}

  /**
   * The live event stream. Written to the raw response rather than through
   * `@Sse()`: each event is serialised once for every client, ids come from
   * the event log, and back-pressure is judged on the socket itself.
   *
   * A valid `GET /api/v1/stream` is opened before Express by
   * `serveStreamsBeforeExpress` (stream-route.ts), which keeps less per idle
   * stream; this route answers the rest: refusals (401, 400) and other
   * spellings of the path.
   */
  @Get()
  @ApiOperation({ summary: 'Server-Sent Events: telemetry, status, state, command and reset events' })
  @ApiOkResponse({
    description: 'An event stream; each event and its data are in the AsyncAPI document (/api/asyncapi.json)',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiErrors(400, 401, [429, 'Too many open streams'])
  @ApiQuery({ name: 'devices', required: false, description: 'comma-separated device ids' })
  @ApiQuery({ name: 'events', required: false, description: `comma-separated: ${DEVICE_EVENT_NAMES.join(', ')}` })
  @ApiQuery({
    name: 'lastEventId',
    required: false,
    description: 'resume after this id (the Last-Event-ID header wins)',
  })
  async stream(
    @Res() res: Response,
    @CurrentUser() user: AuthUser,
    // `unknown`: Express hands a repeated parameter over as an array.
    @Query('devices') devices?: unknown,
    @Query('events') events?: unknown,
    @Query('lastEventId') lastEventIdQuery?: unknown,
    @Headers('last-event-id') lastEventIdHeader?: string,
  ): Promise<void> {
    if (typeof lastEventIdQuery !== 'string' && lastEventIdQuery !== undefined) {
      throw new BadRequestException('lastEventId may be given once');
    }
    const filters = parseStreamFilters(devices, events);
    if (typeof filters === 'string') throw new BadRequestException(filters);
    await this.hub.open(res, {
      username: user.username,
      sessionId: user.sessionId,
      scope: user.scope,
      ...filters,
      lastEventId: lastEventIdOf(lastEventIdHeader, lastEventIdQuery),
    });
  }
}
