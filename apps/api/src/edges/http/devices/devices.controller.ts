import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import {
  type CreateDeviceResponse,
  type DeviceCredentials,
  type DeviceListResponse,
  type DeviceView,
  createDeviceSchema,
  listDevicesQuerySchema,
  updateDeviceSchema,
} from '@iot/protocol';
import { CurrentUser, RequireRole } from '../auth/decorators';
import { DeviceIdPipe } from '../device-id.pipe';
import {
  ApiErrors,
  BODY_ERRORS,
  CreateDeviceResponseDto,
  DeviceCredentialsDto,
  DeviceListResponseDto,
  DeviceViewDto,
} from '../docs/api-responses';
import { DevicesService } from '../../../core/devices/devices.service';
import type { AuthUser } from '../../../core/auth/auth-user';
import { DeviceAccess } from '../../../core/auth/device-access';
import { Audited, answerText, bodyFields, bodyText, param } from '../audit/audited';

class CreateDeviceDto extends createZodDto(createDeviceSchema) {}
class UpdateDeviceDto extends createZodDto(updateDeviceSchema) {}
class ListDevicesQueryDto extends createZodDto(listDevicesQuerySchema) {}

@ApiTags('devices')
@Controller('devices')
export class DevicesController {
  constructor(
    private readonly devices: DevicesService,
    private readonly access: DeviceAccess,
  ) {}

  @Audited({ action: 'device.create', target: (req, answer) => answerText(answer, 'device', 'id') ?? bodyText(req, 'id') })
  @Post()
  @RequireRole('admin')
  @ApiOperation({ summary: 'Register a device; its secret is returned once' })
  @ApiCreatedResponse({ type: CreateDeviceResponseDto })
  @ApiErrors(
    ...BODY_ERRORS,
    [409, 'A device with this id exists'],
    [503, 'The MQTT broker did not take the device (MQTT_DYNSEC)'],
  )
  create(@Body() body: CreateDeviceDto): Promise<CreateDeviceResponse> {
    return this.devices.create(body);
  }

  @Get()
  @ApiOperation({ summary: 'List devices with their latest values' })
  @ApiOkResponse({ type: DeviceListResponseDto })
  @ApiErrors(400, 401, [503, 'Reading the latest values took too long'])
  async list(@Query() query: ListDevicesQueryDto, @CurrentUser() user: AuthUser): Promise<DeviceListResponse> {
    // A scoped user lists only the devices in the scope: the scope is ANDed into the query's selector.
    const labels = this.access.narrow(user, query.labels);
    if (labels === 'none') return { items: [], nextCursor: null };
    return this.devices.list({ ...query, labels: labels && new Map(labels) });
  }

  @Get(':id')
  @ApiOperation({ summary: 'One device' })
  @ApiOkResponse({ type: DeviceViewDto })
  @ApiErrors(400, 401, [404, 'No such device'])
  get(@Param('id', DeviceIdPipe) id: string): Promise<DeviceView> {
    return this.devices.get(id);
  }

  @Audited({ action: 'device.update', target: param('id'), detail: bodyFields })
  @Patch(':id')
  @RequireRole('admin')
  @ApiOperation({ summary: 'Rename or relabel a device' })
  @ApiOkResponse({ type: DeviceViewDto })
  @ApiErrors(...BODY_ERRORS, [404, 'No such device'])
  update(@Param('id', DeviceIdPipe) id: string, @Body() body: UpdateDeviceDto): Promise<DeviceView> {
    return this.devices.update(id, body);
  }

  @Audited({ action: 'device.delete', target: param('id') })
  @Delete(':id')
  @HttpCode(204)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Delete a device: revokes its credentials and drops its session' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(400, 401, 403, [404, 'No such device'])
  remove(@Param('id', DeviceIdPipe) id: string): Promise<void> {
    return this.devices.remove(id);
  }

  @Audited({ action: 'device.rotate', target: param('id') })
  @Post(':id/credentials')
  @RequireRole('admin')
  @ApiOperation({ summary: 'Rotate the secret: the old one fails at once and a live session is dropped' })
  @ApiCreatedResponse({ type: DeviceCredentialsDto })
  @ApiErrors(400, 401, 403, [404, 'No such device'], [503, 'The MQTT broker did not take the new secret (MQTT_DYNSEC)'])
  rotate(@Param('id', DeviceIdPipe) id: string): Promise<DeviceCredentials> {
    return this.devices.rotateCredentials(id);
  }
}
