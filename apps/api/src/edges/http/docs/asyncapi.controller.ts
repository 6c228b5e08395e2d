import { Controller, Get } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { ASYNCAPI_DOCUMENT_PATH, asyncApiDocument } from '@iot/protocol';
import { Public } from '../auth/decorators';

/**
 * The AsyncAPI document (MQTT, SSE, WebSocket), public like /api/docs. It is
 * built once: it depends on the code alone.
 */
@ApiExcludeController()
@Public()
@Controller(ASYNCAPI_DOCUMENT_PATH.slice(1))
export class AsyncApiController {
  private readonly document = asyncApiDocument();

  @Get()
  get(): object {
    return this.document;
  }
}
