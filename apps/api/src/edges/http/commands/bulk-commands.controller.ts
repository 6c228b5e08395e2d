import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { type BulkCommandView, bulkCommandSchema } from '@iot/protocol';
import type { AuthUser } from '../../../core/auth/auth-user';
import { DeviceAccess } from '../../../core/auth/device-access';
import { BulkCommandsService } from '../../../core/commands/bulk-commands.service';
import { DomainError } from '../../../domain/errors';
import { CurrentUser, RequireRole } from '../auth/decorators';
import { ApiErrors, BODY_ERRORS, BulkCommandViewDto } from '../docs/api-responses';
import { Audited, answerText, bodyText } from '../audit/audited';
import { BULK_ID_PATTERN, bulkTarget, bulkView } from './bulk-view';

class BulkCommandDto extends createZodDto(bulkCommandSchema) {}

@ApiTags('commands')
@Controller('commands/bulk')
export class BulkCommandsController {
  constructor(
    private readonly bulk: BulkCommandsService,
    private readonly access: DeviceAccess,
  ) {}

  @Audited({
    action: 'command.bulk',
    target: (_req, answer) => answerText(answer, 'bulkId'),
    detail: (req, answer) => {
      const count = (answer as { items?: unknown[] } | undefined)?.items?.length;
      return [bodyText(req, 'name'), bodyText(req, 'labels'), count === undefined ? undefined : `${count} devices`]
        .filter(Boolean)
        .join(' ');
    },
  })
  @Post()
  @RequireRole('operator')
  @ApiOperation({
    summary: 'Send one command to each of the devices given, or to every device whose labels match (labels=site=a)',
  })
  @ApiCreatedResponse({ type: BulkCommandViewDto, description: 'Each device has its own command, or why not' })
  @ApiErrors(...BODY_ERRORS, [400, 'No device matches, or more than 1,000 do'])
  async send(@Body() body: BulkCommandDto, @CurrentUser() user: AuthUser): Promise<BulkCommandView> {
    const { devices, labels, ...request } = body;
    return bulkView(
      await this.bulk.send(bulkTarget(devices, labels, this.access, user), request, user.username),
      this.access,
      user,
    );
  }

  @Get(':bulkId')
  @ApiOperation({
    summary: "A bulk command or desired-state patch: each device's outcome and its status, and how many are in each",
  })
  @ApiOkResponse({ type: BulkCommandViewDto })
  @ApiErrors(400, 401, [404, 'No such bulk command'])
  async get(@Param('bulkId') bulkId: string, @CurrentUser() user: AuthUser): Promise<BulkCommandView> {
    if (!BULK_ID_PATTERN.test(bulkId)) throw new DomainError('not_found', `no bulk ${bulkId}`);
    return bulkView(await this.bulk.get(bulkId), this.access, user);
  }
}
