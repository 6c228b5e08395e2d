import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { type HealthResponse, type ReadyResponse } from '@iot/protocol';
import { Public } from '../auth/decorators';
import { DeviceTransport } from '../../../core/device-transport';
import { HealthService } from '../../../core/health.service';
import { ApiErrorDto, HealthResponseDto, ReadyResponseDto } from '../docs/api-responses';

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
  @ApiOkResponse({ type: HealthResponseDto })
  healthz(): HealthResponse {
    return { status: 'ok' };
  }

  @Get('readyz')
  @ApiOperation({ summary: 'Ready: the broker and the database are reachable' })
  @ApiOkResponse({ type: ReadyResponseDto })
  @ApiServiceUnavailableResponse({ type: ApiErrorDto, description: 'The broker or the database is not reachable' })
  async readyz(): Promise<ReadyResponse> {
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
