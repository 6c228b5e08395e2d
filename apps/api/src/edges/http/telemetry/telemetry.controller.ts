import { Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { type LatestValues, type TelemetrySeriesResponse, telemetryQuerySchema } from '@iot/protocol';
import { DeviceIdPipe } from '../device-id.pipe';
import { ApiErrors, LatestValuesDto, TelemetrySeriesResponseDto } from '../docs/api-responses';
import { DevicesService } from '../../../core/devices/devices.service';
import { TelemetryHistory } from '../../../core/telemetry/telemetry-history.service';

class TelemetryQueryDto extends createZodDto(telemetryQuerySchema) {}

@ApiTags('telemetry')
@Controller('devices/:id/telemetry')
export class TelemetryController {
  constructor(
    private readonly devices: DevicesService,
    private readonly history: TelemetryHistory,
  ) {}

  @Get('latest')
  @ApiOperation({ summary: 'The latest value of each key' })
  @ApiOkResponse({ type: LatestValuesDto })
  @ApiErrors(400, 401, [404, 'No such device'], [503, 'The read took too long'])
  async latest(@Param('id', DeviceIdPipe) id: string): Promise<LatestValues> {
    await this.assertDevice(id);
    return this.devices.latest(id);
  }

  @Get()
  @ApiOperation({
    summary:
      'History per key, ordered by time: raw points, or with `bucket` or `points` one aggregate (`agg`) per non-empty bucket',
  })
  @ApiOkResponse({ type: TelemetrySeriesResponseDto })
  @ApiErrors(400, 401, [404, 'No such device'], [503, 'The read took too long'])
  async query(
    @Param('id', DeviceIdPipe) id: string,
    @Query() query: TelemetryQueryDto,
  ): Promise<TelemetrySeriesResponse> {
    await this.assertDevice(id);
    return this.history.query(id, query);
  }

  private async assertDevice(id: string): Promise<void> {
    if (!(await this.devices.exists(id))) throw new NotFoundException(`no device ${id}`);
  }
}
