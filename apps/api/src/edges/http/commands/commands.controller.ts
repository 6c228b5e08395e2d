import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { createZodDto } from 'nestjs-zod';
import {
  type CommandAccepted,
  type CommandListResponse,
  type CommandView,
  type CommandWithHistoryView,
  listCommandsQuerySchema,
  sendCommandSchema,
} from '@iot/protocol';
import type { AuthUser } from '../../../core/auth/auth-user';
import { DeviceAccess } from '../../../core/auth/device-access';
import { DomainError } from '../../../domain/errors';
import type { CommandRecord, CommandWithHistory } from '../../../domain/commands';
import { CurrentUser, RequireRole } from '../auth/decorators';
import { DeviceIdPipe } from '../device-id.pipe';
import {
  ApiErrors,
  BODY_ERRORS,
  CommandAcceptedDto,
  CommandListResponseDto,
  CommandViewDto,
  CommandWithHistoryDto,
} from '../docs/api-responses';
import { CommandsService } from '../../../core/commands/commands.service';
import { Audited, answerText, bodyText, param } from '../audit/audited';

class SendCommandDto extends createZodDto(sendCommandSchema) {}
class ListCommandsQueryDto extends createZodDto(listCommandsQuerySchema) {}

/**
 * A stored command as the HTTP API shows it: field by field, so that an answer
 * holds what its schema says whichever record the core hands over.
 */
function view(command: CommandRecord): CommandView {
  return {
    commandId: command.id,
    deviceId: command.deviceId,
    name: command.name,
    params: command.params,
    status: command.status,
    ...(command.result !== undefined && { result: command.result }),
    ...(command.error !== undefined && { error: command.error }),
    ...(command.progress !== undefined && { progress: command.progress }),
    timeoutMs: command.timeoutMs,
    issuedAt: command.issuedAt,
    expiresAt: command.expiresAt,
    sentAt: command.sentAt,
    updatedAt: command.updatedAt,
    createdBy: command.createdBy,
  };
}

function viewWithHistory(command: CommandWithHistory): CommandWithHistoryView {
  return { ...view(command), transitions: command.transitions };
}

@ApiTags('commands')
@Controller()
export class CommandsController {
  constructor(
    private readonly commands: CommandsService,
    private readonly access: DeviceAccess,
  ) {}

  /** A command of a device outside the user's scope is no command to them. */
  private async visible(commandId: string, user: AuthUser): Promise<CommandWithHistory> {
    const command = await this.commands.get(commandId);
    if (!this.access.sees(user, command.deviceId)) throw new DomainError('not_found', `no command ${commandId}`);
    return command;
  }

  @Audited({
    action: 'command.send',
    target: param('id'),
    detail: (req, answer) => [bodyText(req, 'name'), answerText(answer, 'commandId')].filter(Boolean).join(' '),
  })
  @Post('devices/:id/commands')
  @RequireRole('operator')
  @ApiOperation({ summary: 'Send a command: 202 at once, or with ?wait=true 200 once it is terminal' })
  @ApiQuery({
    name: 'wait',
    required: false,
    enum: ['true'],
    description: 'true: answer 200 once the command is terminal',
  })
  @ApiAcceptedResponse({ type: CommandAcceptedDto, description: 'Stored; sent at once or when the device connects' })
  @ApiOkResponse({ type: CommandViewDto, description: 'With ?wait=true: the command once it is terminal' })
  @ApiErrors(...BODY_ERRORS, [404, 'No such device'])
  async send(
    @Param('id', DeviceIdPipe) deviceId: string,
    @Body() body: SendCommandDto,
    @Query('wait') wait: string | undefined,
    @CurrentUser() user: AuthUser,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CommandAccepted | CommandView> {
    const command = await this.commands.send({ deviceId, ...body }, user.username);
    if (wait !== 'true') {
      res.status(202);
      return { commandId: command.id, status: command.status };
    }
    res.status(200);
    return view(await this.commands.waitForTerminal(command.id));
  }

  @Get('devices/:id/commands')
  @ApiOperation({ summary: "A device's command history, newest first, with every transition" })
  @ApiOkResponse({ type: CommandListResponseDto })
  @ApiErrors(400, 401, [404, 'No such device'])
  async list(
    @Param('id', DeviceIdPipe) deviceId: string,
    @Query() query: ListCommandsQueryDto,
  ): Promise<CommandListResponse> {
    const items = await this.commands.list(deviceId, query.cursor, query.limit + 1);
    const page = items.slice(0, query.limit);
    return {
      items: page.map(viewWithHistory),
      nextCursor: items.length > query.limit ? page[page.length - 1].id : null,
    };
  }

  @Get('commands/:commandId')
  @ApiOperation({ summary: 'One command with its transitions' })
  @ApiOkResponse({ type: CommandWithHistoryDto })
  @ApiErrors(401, [404, 'No such command'])
  async get(@Param('commandId') commandId: string, @CurrentUser() user: AuthUser): Promise<CommandWithHistoryView> {
    return viewWithHistory(await this.visible(commandId, user));
  }

  @Audited({ action: 'command.cancel', target: param('commandId') })
  @Post('commands/:commandId/cancel')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Cancel a command still pending for an offline device' })
  @ApiOkResponse({ type: CommandViewDto })
  @ApiErrors(401, 403, [404, 'No such command'], [409, 'The command is no longer pending'])
  async cancel(@Param('commandId') commandId: string, @CurrentUser() user: AuthUser): Promise<CommandView> {
    if (this.access.limited(user)) await this.visible(commandId, user);
    return view(await this.commands.cancel(commandId, user.username));
  }
}
