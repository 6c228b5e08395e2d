import { Body, Controller, Get, HttpCode, Param, ParseIntPipe, Post, Put, Query, Res } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { createZodDto } from 'nestjs-zod';
import {
  type DeviceModel,
  type DeviceModelView,
  type ModelListResponse,
  assignModelSchema,
  deviceModelJsonSchema,
  listModelsQuerySchema,
  modelRefSchema,
} from '@iot/protocol';
import { DomainError } from '../../../domain/errors';
import { RequireRole } from '../auth/decorators';
import { DeviceIdPipe } from '../device-id.pipe';
import {
  ApiErrors,
  BODY_ERRORS,
  DeviceModelDto,
  DeviceModelViewDto,
  JsonSchemaDocumentDto,
  ModelListResponseDto,
  ModelVersionsDto,
} from '../docs/api-responses';
import { ModelsService } from '../../../core/models/models.service';
import { Audited, bodyText, param } from '../audit/audited';

class AssignModelDto extends createZodDto(assignModelSchema) {}
class ListModelsQueryDto extends createZodDto(listModelsQuerySchema) {}

/** The model format as JSON Schema, made once. */
const MODEL_FORMAT = deviceModelJsonSchema();
function modelId(id: string): string {
  const parsed = modelRefSchema.shape.id.safeParse(id);
  if (!parsed.success) throw new DomainError('bad_request', parsed.error.issues[0].message);
  return parsed.data;
}

@ApiTags('models')
@Controller()
export class ModelsController {
  constructor(private readonly models: ModelsService) {}

  @Get('models')
  @ApiOperation({ summary: 'The model catalogue: each model at its newest version, by id' })
  @ApiOkResponse({ type: ModelListResponseDto })
  @ApiErrors(400, 401)
  async list(@Query() query: ListModelsQueryDto): Promise<ModelListResponse> {
    const items = await this.models.list(query.limit + 1, query.cursor);
    const more = items.length > query.limit;
    if (more) items.pop();
    return { items, nextCursor: more ? items[items.length - 1].id : null };
  }

  @Get('models/schema.json')
  @ApiOperation({ summary: 'The model format, as JSON Schema (2020-12)' })
  @ApiOkResponse({ type: JsonSchemaDocumentDto })
  @ApiErrors(401)
  format(): Record<string, unknown> {
    return MODEL_FORMAT;
  }

  @Audited({ action: 'model.create', target: (req) => bodyText(req, 'id') })
  @Post('models')
  @RequireRole('admin')
  @ApiOperation({
    summary: 'Add a model, or a new version of one, to the catalogue; 200 when that version is there already',
  })
  @ApiBody({ schema: MODEL_FORMAT as object })
  @ApiCreatedResponse({ type: DeviceModelDto, description: 'Added' })
  @ApiOkResponse({ type: DeviceModelDto, description: 'That version is there already, with the same document' })
  @ApiErrors(...BODY_ERRORS, [409, 'That id and version exist with another document'])
  async create(@Body() body: unknown, @Res({ passthrough: true }) res: Response): Promise<DeviceModel> {
    const { model, outcome } = await this.models.create(body);
    res.status(outcome === 'created' ? 201 : 200);
    return model;
  }

  @Get('models/:id/versions')
  @ApiOperation({ summary: "A model's versions, newest first" })
  @ApiOkResponse({ type: ModelVersionsDto })
  @ApiErrors(400, 401, [404, 'No such model'])
  async versions(@Param('id') id: string): Promise<{ versions: number[] }> {
    const versions = await this.models.versions(modelId(id));
    if (versions.length === 0) throw new DomainError('not_found', `no model ${id}`);
    return { versions };
  }

  @Get('models/:id/versions/:version')
  @ApiOperation({ summary: 'One version of a model' })
  @ApiOkResponse({ type: DeviceModelDto })
  @ApiErrors(400, 401, [404, 'No such model version'])
  async get(@Param('id') id: string, @Param('version', ParseIntPipe) version: number): Promise<DeviceModel> {
    const model = await this.models.get({ id: modelId(id), version });
    if (!model) throw new DomainError('not_found', `no model ${id} version ${version}`);
    return model;
  }

  @Get('devices/:id/model')
  @ApiOperation({ summary: "A device's model (null: none)" })
  @ApiOkResponse({ type: DeviceModelViewDto })
  @ApiErrors(400, 401, [404, 'No such device'])
  async deviceModel(@Param('id', DeviceIdPipe) deviceId: string): Promise<DeviceModelView> {
    return { model: (await this.models.deviceModel(deviceId)) ?? null, misfits: this.models.misfitsOf(deviceId) };
  }

  @Audited({
    action: 'model.assign',
    target: param('id'),
    detail: (req) => {
      const model = (req.body as { model?: { id?: unknown; version?: unknown } | null } | undefined)?.model;
      return model ? `${String(model.id)}@${String(model.version)}` : 'none';
    },
  })
  @Put('devices/:id/model')
  @RequireRole('admin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Give a device a model from the catalogue, or take its model away (`{"model": null}`)' })
  @ApiOkResponse({ type: DeviceModelViewDto, description: 'The device now has that model' })
  @ApiErrors(...BODY_ERRORS, [404, 'No such device or model version'])
  async assign(@Param('id', DeviceIdPipe) deviceId: string, @Body() body: AssignModelDto): Promise<DeviceModelView> {
    await this.models.assign(deviceId, body.model);
    return { model: (await this.models.modelOf(deviceId)) ?? null, misfits: this.models.misfitsOf(deviceId) };
  }
}
