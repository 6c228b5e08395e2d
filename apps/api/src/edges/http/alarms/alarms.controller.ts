import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import {
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import {
  type AlarmListResponse,
  type AlarmRuleListResponse,
  type AlarmRuleView,
  type AlarmView,
  type AlarmWithHistory,
  alarmActionSchema,
  alarmRuleRequestSchema,
  listAlarmsQuerySchema,
} from '@iot/protocol';
import type { AuthUser } from '../../../core/auth/auth-user';
import { AlarmsService } from '../../../core/alarms/alarms.service';
import type { AlarmRule } from '../../../domain/alarms';
import { DomainError } from '../../../domain/errors';
import { CurrentUser, RequireRole } from '../auth/decorators';
import {
  AlarmListResponseDto,
  AlarmRuleListResponseDto,
  AlarmRuleViewDto,
  AlarmViewDto,
  AlarmWithHistoryDto,
  ApiErrors,
  BODY_ERRORS,
} from '../docs/api-responses';
import { Audited, answerText, bodyText, param } from '../audit/audited';

class AlarmRuleRequestDto extends createZodDto(alarmRuleRequestSchema) {}
class AlarmActionDto extends createZodDto(alarmActionSchema) {}
class ListAlarmsQueryDto extends createZodDto(listAlarmsQuerySchema) {}

/** The note of an acknowledgement or clear, whose body may be absent. */
function noteOf(body: unknown): string | undefined {
  const parsed = alarmActionSchema.optional().safeParse(body);
  if (!parsed.success) throw new DomainError('bad_request', parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data?.note;
}

function ruleView(rule: AlarmRule): AlarmRuleView {
  return {
    id: rule.id,
    name: rule.name,
    severity: rule.severity,
    enabled: rule.enabled,
    target: rule.target,
    condition: rule.condition,
    createdAt: rule.createdAt,
    updatedAt: rule.updatedAt,
  };
}

@ApiTags('alarms')
@Controller('alarm-rules')
export class AlarmRulesController {
  constructor(private readonly alarms: AlarmsService) {}

  @Get()
  @ApiOperation({ summary: 'Every alarm rule (at most 1,000), by name' })
  @ApiOkResponse({ type: AlarmRuleListResponseDto })
  @ApiErrors(401)
  async list(): Promise<AlarmRuleListResponse> {
    return { items: (await this.alarms.listRules()).map(ruleView) };
  }

  @Audited({
    action: 'alarm-rule.create',
    target: (_req, answer) => answerText(answer, 'id'),
    detail: (req) => bodyText(req, 'name'),
  })
  @Post()
  @RequireRole('operator')
  @ApiOperation({ summary: 'Create an alarm rule; every replica evaluates it from then on' })
  @ApiCreatedResponse({ type: AlarmRuleViewDto })
  @ApiErrors(...BODY_ERRORS, [413, 'There are 1,000 rules already'])
  async create(@Body() body: AlarmRuleRequestDto): Promise<AlarmRuleView> {
    return ruleView(await this.alarms.createRule(body));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One alarm rule' })
  @ApiOkResponse({ type: AlarmRuleViewDto })
  @ApiErrors(401, [404, 'No such rule'])
  async get(@Param('id') id: string): Promise<AlarmRuleView> {
    return ruleView(await this.alarms.getRule(id));
  }

  @Audited({ action: 'alarm-rule.update', target: param('id'), detail: (req) => bodyText(req, 'name') })
  @Put(':id')
  @RequireRole('operator')
  @ApiOperation({ summary: 'Replace an alarm rule; its open alarms stay until the new condition ends' })
  @ApiOkResponse({ type: AlarmRuleViewDto })
  @ApiErrors(...BODY_ERRORS, [404, 'No such rule'])
  async update(@Param('id') id: string, @Body() body: AlarmRuleRequestDto): Promise<AlarmRuleView> {
    return ruleView(await this.alarms.updateRule(id, body));
  }

  @Audited({ action: 'alarm-rule.delete', target: param('id') })
  @Delete(':id')
  @HttpCode(204)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Delete an alarm rule; its open alarms are cleared' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(401, 403, [404, 'No such rule'])
  remove(@Param('id') id: string, @CurrentUser() user: AuthUser): Promise<void> {
    return this.alarms.deleteRule(id, user.username);
  }
}

@ApiTags('alarms')
@Controller('alarms')
export class AlarmsController {
  constructor(private readonly alarms: AlarmsService) {}

  @Get()
  @ApiOperation({ summary: 'Alarms, newest first, filtered; active=true: raised or acknowledged' })
  @ApiOkResponse({ type: AlarmListResponseDto })
  @ApiErrors(400, 401)
  list(@Query() query: ListAlarmsQueryDto): Promise<AlarmListResponse> {
    return this.alarms.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One alarm with its transitions, oldest first' })
  @ApiOkResponse({ type: AlarmWithHistoryDto })
  @ApiErrors(401, [404, 'No such alarm'])
  get(@Param('id') id: string): Promise<AlarmWithHistory> {
    return this.alarms.get(id);
  }

  @Audited({ action: 'alarm.acknowledge', target: param('id'), detail: (req) => bodyText(req, 'note') })
  @Post(':id/acknowledge')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Acknowledge a raised alarm, with a note' })
  @ApiOkResponse({ type: AlarmViewDto })
  @ApiErrors(...BODY_ERRORS, [404, 'No such alarm'], [409, 'The alarm is not raised (acknowledged or cleared already)'])
  @ApiBody({ type: AlarmActionDto, required: false })
  acknowledge(@Param('id') id: string, @Body() body: unknown, @CurrentUser() user: AuthUser): Promise<AlarmView> {
    return this.alarms.acknowledge(id, user.username, noteOf(body));
  }

  @Audited({ action: 'alarm.clear', target: param('id'), detail: (req) => bodyText(req, 'note') })
  @Post(':id/clear')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Clear an open alarm by hand; the rule raises again only after its condition ends' })
  @ApiOkResponse({ type: AlarmViewDto })
  @ApiErrors(...BODY_ERRORS, [404, 'No such alarm'], [409, 'The alarm is cleared already'])
  @ApiBody({ type: AlarmActionDto, required: false })
  clear(@Param('id') id: string, @Body() body: unknown, @CurrentUser() user: AuthUser): Promise<AlarmView> {
    return this.alarms.clear(id, user.username, noteOf(body));
  }
}
