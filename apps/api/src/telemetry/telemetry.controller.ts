import { BadRequestException, Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { type LatestValues, type TelemetrySeriesResponse, telemetryQuerySchema } from '@iot/protocol';
import { DeviceIdPipe } from '../common/device-id.pipe';
import { Storage } from '../storage/storage';

class TelemetryQueryDto extends createZodDto(telemetryQuerySchema) {}

@ApiTags('telemetry')
@Controller('devices/:id/telemetry')
export class TelemetryController {
  constructor(private readonly storage: Storage) {}

  @Get('latest')
  @ApiOperation({ summary: 'The latest value of each key' })
  async latest(@Param('id', DeviceIdPipe) id: string): Promise<LatestValues> {
    await this.assertDevice(id);
    return (await this.storage.latest([id])).get(id) ?? {};
  }

  @Get()
  @ApiOperation({ summary: 'Raw history per key, ordered by time; `limit` applies to each series' })
  async history(
    @Param('id', DeviceIdPipe) id: string,
    @Query() query: TelemetryQueryDto,
    @Query('bucket') bucket?: string,
    @Query('points') points?: string,
  ): Promise<TelemetrySeriesResponse> {
    if (bucket !== undefined || points !== undefined) {
      throw new BadRequestException('aggregated history (bucket, agg, points) is not available yet; ask for raw points');
    }
    await this.assertDevice(id);
    const series = await this.storage.history({ deviceId: id, ...query });
    return { deviceId: id, series };
  }

  private async assertDevice(id: string): Promise<void> {
    if (!(await this.storage.getDevice(id))) throw new NotFoundException(`no device ${id}`);
  }
}
