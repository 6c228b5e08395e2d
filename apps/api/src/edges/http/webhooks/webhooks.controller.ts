import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import {
  type DeliveryListResponse,
  listDeliveriesQuerySchema,
  type WebhookDeliveryView,
  webhookInputSchema,
  type WebhookTestResult,
  type WebhookView,
  type WebhookWithSecret,
} from '@iot/protocol';
import type { AuthUser } from '../../../core/auth/auth-user';
import { WebhooksService } from '../../../core/notifications/webhooks.service';
import { DomainError } from '../../../domain/errors';
import type { DeliveryRecord, WebhookRecord } from '../../../domain/webhooks';
import { Audited, answerText, bodyFields, bodyText, param } from '../audit/audited';
import { CurrentUser, RequireRole } from '../auth/decorators';
import {
  ApiErrors,
  BODY_ERRORS,
  DeliveryListResponseDto,
  WebhookTestResultDto,
  WebhookViewDto,
  WebhookWithSecretDto,
} from '../docs/api-responses';

class WebhookInputDto extends createZodDto(webhookInputSchema) {}
class ListDeliveriesQueryDto extends createZodDto(listDeliveriesQuerySchema) {}

/** A webhook as the API shows it: never its secret. */
function view(webhook: WebhookRecord): WebhookView {
  return {
    id: webhook.id,
    name: webhook.name,
    url: webhook.url,
    minSeverity: webhook.minSeverity,
    ruleIds: webhook.ruleIds,
    enabled: webhook.enabled,
    createdBy: webhook.createdBy,
    createdAt: webhook.createdAt,
    updatedAt: webhook.updatedAt,
  };
}

function deliveryView(d: DeliveryRecord): WebhookDeliveryView {
  return {
    id: d.id,
    webhookId: d.webhookId,
    seq: d.seq,
    event: d.event,
    alarmId: d.alarmId,
    status: d.status,
    attempts: d.attempts,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    nextAttemptAt: d.nextAttemptAt,
    createdAt: d.createdAt,
    deliveredAt: d.deliveredAt,
  };
}

/** Ids are uuids: anything else names no webhook (and goes no further). */
function checkedId(id: string): string {
  if (!/^[0-9a-f-]{36}$/.test(id)) throw new DomainError('not_found', 'no such webhook');
  return id;
}

@ApiTags('webhooks')
@RequireRole('admin')
@Controller('webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Get()
  @ApiOperation({ summary: 'List webhooks (without their secrets)' })
  @ApiOkResponse({ type: WebhookViewDto, isArray: true })
  @ApiErrors(401, 403)
  async list(): Promise<WebhookView[]> {
    return (await this.webhooks.list()).map(view);
  }

  @Audited({
    action: 'webhook.create',
    target: (_req, answer) => answerText(answer, 'id'),
    detail: (req) => bodyText(req, 'name'),
  })
  @Post()
  @ApiOperation({
    summary: 'Create a webhook for alarm notifications; the answer holds its signing secret, shown once',
  })
  @ApiCreatedResponse({ type: WebhookWithSecretDto })
  @ApiErrors(...BODY_ERRORS, [409, 'There are 100 webhooks already'])
  async create(@Body() body: WebhookInputDto, @CurrentUser() user: AuthUser): Promise<WebhookWithSecret> {
    const webhook = await this.webhooks.create(body, user.username);
    return { ...view(webhook), secret: webhook.secret };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A webhook (without its secret)' })
  @ApiOkResponse({ type: WebhookViewDto })
  @ApiErrors(401, 403, [404, 'No such webhook'])
  async get(@Param('id') id: string): Promise<WebhookView> {
    return view(await this.webhooks.get(checkedId(id)));
  }

  @Audited({ action: 'webhook.update', target: param('id'), detail: bodyFields })
  @Put(':id')
  @ApiOperation({ summary: "Replace a webhook's settings; its secret stays" })
  @ApiOkResponse({ type: WebhookViewDto })
  @ApiErrors(...BODY_ERRORS, [404, 'No such webhook'])
  async update(@Param('id') id: string, @Body() body: WebhookInputDto): Promise<WebhookView> {
    return view(await this.webhooks.update(checkedId(id), body));
  }

  @Audited({ action: 'webhook.delete', target: param('id') })
  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a webhook and its delivery log' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(401, 403, [404, 'No such webhook'])
  async remove(@Param('id') id: string): Promise<void> {
    await this.webhooks.delete(checkedId(id));
  }

  @Audited({ action: 'webhook.rotate-secret', target: param('id') })
  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'Give a webhook a new signing secret (shown once); the old one stops at once' })
  @ApiOkResponse({ type: WebhookWithSecretDto })
  @ApiErrors(401, 403, [404, 'No such webhook'])
  async rotate(@Param('id') id: string): Promise<WebhookWithSecret> {
    const webhook = await this.webhooks.rotateSecret(checkedId(id));
    return { ...view(webhook), secret: webhook.secret };
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: "A webhook's delivery log, newest first: each event's status, attempts and last error" })
  @ApiOkResponse({ type: DeliveryListResponseDto })
  @ApiErrors(400, 401, 403, [404, 'No such webhook'])
  async deliveries(@Param('id') id: string, @Query() query: ListDeliveriesQueryDto): Promise<DeliveryListResponse> {
    const records = await this.webhooks.deliveries(checkedId(id), {
      status: query.status,
      beforeId: query.cursor,
      limit: query.limit + 1,
    });
    const more = records.length > query.limit;
    if (more) records.pop();
    return { items: records.map(deliveryView), nextCursor: more ? records[records.length - 1].id : null };
  }

  @Audited({
    action: 'webhook.test',
    target: param('id'),
    detail: (_req, answer) => {
      const result = answer as WebhookTestResult | undefined;
      if (result === undefined) return undefined;
      return result.delivered ? `delivered ${result.statusCode}` : `failed: ${result.error}`;
    },
  })
  @Post(':id/test')
  @HttpCode(200)
  @ApiOperation({ summary: 'Send a signed ping to a webhook now and say what its receiver answered' })
  @ApiOkResponse({ type: WebhookTestResultDto })
  @ApiErrors(401, 403, [404, 'No such webhook'])
  async test(@Param('id') id: string): Promise<WebhookTestResult> {
    return this.webhooks.test(checkedId(id));
  }
}
