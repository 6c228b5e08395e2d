import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import * as z from 'zod';
import { Public } from '../auth/decorators';
import { DeviceTransport } from '../../../core/device-transport';
import { HealthService } from '../../../core/health.service';
import { ApiErrorDto } from '../docs/api-responses';

class HealthDto extends createZodDto(z.object({ status: z.literal('ok') })) {}
class ReadyDto extends createZodDto(z.object({ status: z.literal('ok'), broker: z.string(), database: z.string() })) {}

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly transport: DeviceTransport,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Alive' })
  @ApiOkResponse({ type: HealthDto })
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @ApiOperation({ summary: 'Ready: the broker and the database are reachable' })
  @ApiOkResponse({ type: ReadyDto })
  @ApiServiceUnavailableResponse({ type: ApiErrorDto, description: 'The broker or the database is not reachable' })
  async readyz(): Promise<{ status: 'ok'; broker: string; database: string }> {
    const database = await this.health.pingDatabase().then(
      () => 'ok',
      (error: Error) => error.message,
    );
    const broker = this.transport.ready ? 'ok' : 'not connected';
    if (database !== 'ok' || broker !== 'ok') {
      throw new ServiceUnavailableException(`broker: ${broker}; database: ${database}`);
    }
    return { status: 'ok', broker, database };
  }
}
