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
  type AlarmTarget,
  type AlarmWithHistory,
  alarmActionSchema,
  alarmRuleRequestSchema,
  labelSelectorSchema,
  labelSelectorText,
  listAlarmsQuerySchema,
} from '@iot/protocol';
import type { AuthUser } from '../../../core/auth/auth-user';
import { DeviceAccess } from '../../../core/auth/device-access';
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

/**
 * Whether a rule's target lies in the user's scope: a device the user sees,
 * or a label selector that asks at least the scope's labels. A model's rule
 * reaches devices of every scope, so it is no scoped user's.
 */
function targetInScope(access: DeviceAccess, user: AuthUser, target: AlarmTarget): boolean {
  if (!access.limited(user)) return true;
  if ('deviceId' in target) return access.sees(user, target.deviceId);
  if (!('labels' in target)) return false;
  const selector = labelSelectorSchema.safeParse(target.labels);
  return selector.success && access.within(user, selector.data);
}

/**
 * A scoped user's rule target, limited to the scope: a label selector gets
 * the scope ANDed in; a device outside is unknown; a model is refused.
 */
function scopedTarget(access: DeviceAccess, user: AuthUser, target: AlarmTarget): AlarmTarget {
  if (!access.limited(user)) return target;
  if ('deviceId' in target) {
    if (!access.sees(user, target.deviceId)) throw new DomainError('not_found', `no device ${target.deviceId}`);
    return target;
  }
  if ('labels' in target) {
    const narrowed = access.narrow(user, labelSelectorSchema.parse(target.labels));
    if (narrowed === 'none' || narrowed === undefined) {
      throw new DomainError('bad_request', 'target.labels: no device in your scope could match the selector');
    }
    return { labels: labelSelectorText(narrowed) };
  }
  throw new DomainError('bad_request', 'target: a user with a scope gives rules for a device or labels, not a model');
}

@ApiTags('alarms')
@Controller('alarm-rules')
export class AlarmRulesController {
  constructor(
    private readonly alarms: AlarmsService,
    private readonly access: DeviceAccess,
  ) {}

  /** A rule outside the user's scope is no rule to them. */
  private async visibleRule(id: string, user: AuthUser): Promise<AlarmRule> {
    const rule = await this.alarms.getRule(id);
    if (!targetInScope(this.access, user, rule.target)) throw new DomainError('not_found', `no alarm rule ${id}`);
    return rule;
  }

  @Get()
  @ApiOperation({ summary: 'Every alarm rule (at most 1,000), by name' })
  @ApiOkResponse({ type: AlarmRuleListResponseDto })
  @ApiErrors(401)
  async list(@CurrentUser() user: AuthUser): Promise<AlarmRuleListResponse> {
    const rules = await this.alarms.listRules();
    return { items: rules.filter((rule) => targetInScope(this.access, user, rule.target)).map(ruleView) };
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
  async create(@Body() body: AlarmRuleRequestDto, @CurrentUser() user: AuthUser): Promise<AlarmRuleView> {
    return ruleView(await this.alarms.createRule({ ...body, target: scopedTarget(this.access, user, body.target) }));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One alarm rule' })
  @ApiOkResponse({ type: AlarmRuleViewDto })
  @ApiErrors(401, [404, 'No such rule'])
  async get(@Param('id') id: string, @CurrentUser() user: AuthUser): Promise<AlarmRuleView> {
    return ruleView(await this.visibleRule(id, user));
  }

  @Audited({ action: 'alarm-rule.update', target: param('id'), detail: (req) => bodyText(req, 'name') })
  @Put(':id')
  @RequireRole('operator')
  @ApiOperation({ summary: 'Replace an alarm rule; its open alarms stay until the new condition ends' })
  @ApiOkResponse({ type: AlarmRuleViewDto })
  @ApiErrors(...BODY_ERRORS, [404, 'No such rule'])
  async update(
    @Param('id') id: string,
    @Body() body: AlarmRuleRequestDto,
    @CurrentUser() user: AuthUser,
  ): Promise<AlarmRuleView> {
    if (this.access.limited(user)) await this.visibleRule(id, user);
    return ruleView(
      await this.alarms.updateRule(id, { ...body, target: scopedTarget(this.access, user, body.target) }),
    );
  }

  @Audited({ action: 'alarm-rule.delete', target: param('id') })
  @Delete(':id')
  @HttpCode(204)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Delete an alarm rule; its open alarms are cleared' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(401, 403, [404, 'No such rule'])
  async remove(@Param('id') id: string, @CurrentUser() user: AuthUser): Promise<void> {
    if (this.access.limited(user)) await this.visibleRule(id, user);
    return this.alarms.deleteRule(id, user.username);
  }
}

@ApiTags('alarms')
@Controller('alarms')
export class AlarmsController {
  constructor(
    private readonly alarms: AlarmsService,
    private readonly access: DeviceAccess,
  ) {}

  /** An alarm of a device outside the user's scope is no alarm to them. */
  private async visible(id: string, user: AuthUser): Promise<AlarmWithHistory> {
    const alarm = await this.alarms.get(id);
    if (!this.access.sees(user, alarm.deviceId)) throw new DomainError('not_found', `no alarm ${id}`);
    return alarm;
  }

  @Get()
  @ApiOperation({ summary: 'Alarms, newest first, filtered; active=true: raised or acknowledged' })
  @ApiOkResponse({ type: AlarmListResponseDto })
  @ApiErrors(400, 401)
  list(@Query() query: ListAlarmsQueryDto, @CurrentUser() user: AuthUser): Promise<AlarmListResponse> {
    return this.alarms.list(query, this.access.limited(user) ? (id) => this.access.sees(user, id) : undefined);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One alarm with its transitions, oldest first' })
  @ApiOkResponse({ type: AlarmWithHistoryDto })
  @ApiErrors(401, [404, 'No such alarm'])
  get(@Param('id') id: string, @CurrentUser() user: AuthUser): Promise<AlarmWithHistory> {
    return this.visible(id, user);
  }

  @Audited({ action: 'alarm.acknowledge', target: param('id'), detail: (req) => bodyText(req, 'note') })
  @Post(':id/acknowledge')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Acknowledge a raised alarm, with a note' })
  @ApiOkResponse({ type: AlarmViewDto })
  @ApiErrors(...BODY_ERRORS, [404, 'No such alarm'], [409, 'The alarm is not raised (acknowledged or cleared already)'])
  @ApiBody({ type: AlarmActionDto, required: false })
  async acknowledge(@Param('id') id: string, @Body() body: unknown, @CurrentUser() user: AuthUser): Promise<AlarmView> {
    const note = noteOf(body);
    if (this.access.limited(user)) await this.visible(id, user);
    return this.alarms.acknowledge(id, user.username, note);
  }

  @Audited({ action: 'alarm.clear', target: param('id'), detail: (req) => bodyText(req, 'note') })
  @Post(':id/clear')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Clear an open alarm by hand; the rule raises again only after its condition ends' })
  @ApiOkResponse({ type: AlarmViewDto })
  @ApiErrors(...BODY_ERRORS, [404, 'No such alarm'], [409, 'The alarm is cleared already'])
  @ApiBody({ type: AlarmActionDto, required: false })
  async clear(@Param('id') id: string, @Body() body: unknown, @CurrentUser() user: AuthUser): Promise<AlarmView> {
    const note = noteOf(body);
    if (this.access.limited(user)) await this.visible(id, user);
    return this.alarms.clear(id, user.username, note);
  }
}
