import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { createZodDto } from 'nestjs-zod';
import { type BulkCommandView, type JsonObject, bulkDesiredSchema } from '@iot/protocol';
import type { AuthUser } from '../../../core/auth/auth-user';
import { DeviceAccess } from '../../../core/auth/device-access';
import { BulkCommandsService } from '../../../core/commands/bulk-commands.service';
import { DomainError } from '../../../domain/errors';
import { CurrentUser, RequireRole } from '../auth/decorators';
import { ApiErrors, BODY_ERRORS, BulkCommandViewDto } from '../docs/api-responses';
import { Audited, answerText, bodyText } from '../audit/audited';
import { BULK_ID_PATTERN, bulkTarget, bulkView } from '../commands/bulk-view';

class BulkDesiredDto extends createZodDto(bulkDesiredSchema) {}

/** The top-level properties a bulk patch sets (never their values), as a note. */
function desiredFields(req: Request): string | undefined {
  const desired = (req.body as { desired?: unknown } | undefined)?.desired;
  if (desired === null || typeof desired !== 'object' || Array.isArray(desired)) return undefined;
  const keys = Object.keys(desired);
  return keys.length === 0 ? undefined : keys.slice(0, 32).join(',');
}

@ApiTags('state')
@Controller('state/bulk')
export class BulkStateController {
  constructor(
    private readonly bulk: BulkCommandsService,
    private readonly access: DeviceAccess,
  ) {}

  @Audited({
    action: 'state.bulk',
    target: (_req, answer) => answerText(answer, 'bulkId'),
    detail: (req, answer) => {
      const count = (answer as { items?: unknown[] } | undefined)?.items?.length;
      return [desiredFields(req), bodyText(req, 'labels'), count === undefined ? undefined : `${count} devices`]
        .filter(Boolean)
        .join(' ');
    },
  })
  @Post()
  @RequireRole('operator')
  @ApiOperation({
    summary: 'Merge-patch the desired state of each of the devices given, or of every device whose labels match',
  })
  @ApiCreatedResponse({ type: BulkCommandViewDto, description: "Each device's new desired version, or why not" })
  @ApiErrors(...BODY_ERRORS, [400, 'No device matches, or more than 1,000 do'])
  async patch(@Body() body: BulkDesiredDto, @CurrentUser() user: AuthUser): Promise<BulkCommandView> {
    // The schema checked `desired` is a JSON object, and kept it as parsed.
    const desired = body.desired as JsonObject;
    const target = bulkTarget(body.devices, body.labels, this.access, user);
    return bulkView(await this.bulk.patchDesired(target, desired, user.username), this.access, user);
  }

  @Get(':bulkId')
  @ApiOperation({ summary: "A bulk (patch or command): each device's outcome, and how many are in each status" })
  @ApiOkResponse({ type: BulkCommandViewDto })
  @ApiErrors(400, 401, [404, 'No such bulk'])
  async get(@Param('bulkId') bulkId: string, @CurrentUser() user: AuthUser): Promise<BulkCommandView> {
    if (!BULK_ID_PATTERN.test(bulkId)) throw new DomainError('not_found', `no bulk ${bulkId}`);
    return bulkView(await this.bulk.get(bulkId), this.access, user);
  }
}
