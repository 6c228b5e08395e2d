import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/decorators';
import { DeviceTransport } from '../broker/transport';
import { Storage } from '../storage/storage';

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly storage: Storage,
    private readonly transport: DeviceTransport,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Alive' })
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @ApiOperation({ summary: 'Ready: the broker and the database are reachable' })
  async readyz(): Promise<{ status: 'ok'; broker: string; database: string }> {
    const database = await this.storage.ping().then(
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
