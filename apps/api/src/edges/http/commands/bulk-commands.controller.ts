import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { type BulkCommandView, bulkCommandSchema } from '@iot/protocol';
import type { AuthUser } from '../../../core/auth/auth-user';
import { type BulkState, BulkCommandsService } from '../../../core/commands/bulk-commands.service';
import { DomainError } from '../../../domain/errors';
import { CurrentUser, RequireRole } from '../auth/decorators';
import { ApiErrors, BODY_ERRORS, BulkCommandViewDto } from '../docs/api-responses';
import { Audited, answerText, bodyText } from '../audit/audited';

class BulkCommandDto extends createZodDto(bulkCommandSchema) {}

/** A bulk command as the HTTP API shows it: each device's command with its status, and the counts. */
function view({ bulk, statuses }: BulkState): BulkCommandView {
  const counts: Record<string, number> = {};
  const items = bulk.items.map((item) => {
    const status = item.commandId === null ? null : (statuses.get(item.commandId) ?? null);
    const key = status ?? 'refused';
    counts[key] = (counts[key] ?? 0) + 1;
    return { deviceId: item.deviceId, commandId: item.commandId, status, error: item.error };
  });
  return {
    bulkId: bulk.id,
    name: bulk.name,
    createdBy: bulk.createdBy,
    createdAt: bulk.createdAt,
    target: bulk.target,
    items,
    counts,
  };
}

@ApiTags('commands')
@Controller('commands/bulk')
export class BulkCommandsController {
  constructor(private readonly bulk: BulkCommandsService) {}

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
    const selector = labels ?? new Map<string, string>();
    const target =
      devices !== undefined
        ? { devices }
        : { labels: selector, selector: [...selector].map(([key, value]) => `${key}=${value}`).join(',') };
    return view(await this.bulk.send(target, request, user.username));
  }

  @Get(':bulkId')
  @ApiOperation({ summary: "A bulk command: each device's command and its status, and how many are in each" })
  @ApiOkResponse({ type: BulkCommandViewDto })
  @ApiErrors(400, 401, [404, 'No such bulk command'])
  async get(@Param('bulkId') bulkId: string): Promise<BulkCommandView> {
    if (!/^[0-9a-f-]{36}$/.test(bulkId)) throw new DomainError('not_found', `no bulk command ${bulkId}`);
    return view(await this.bulk.get(bulkId));
  }
}
