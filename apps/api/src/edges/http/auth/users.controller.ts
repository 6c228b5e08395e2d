import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { createZodDto } from 'nestjs-zod';
import { type UserView, createUserSchema, updateUserSchema } from '@iot/protocol';
import { ApiErrors, BODY_ERRORS, UserViewDto } from '../docs/api-responses';
import { AuthService } from '../../../core/auth/auth.service';
import { RequireRole } from './decorators';
import { Audited, bodyFields, bodyText, param } from '../audit/audited';

class CreateUserDto extends createZodDto(createUserSchema) {}
class UpdateUserDto extends createZodDto(updateUserSchema) {}

function view(user: UserView): UserView {
  return { username: user.username, role: user.role, scope: user.scope };
}

/** The scope a create or update gave, as an audit note (the user's answer holds it as stored). */
function scopeNote(req: Request, answer: unknown): string | undefined {
  if (!bodyFields(req)?.split(',').includes('scope')) return undefined;
  const scope = (answer as { scope?: unknown } | undefined)?.scope;
  return typeof scope === 'string' ? `scope ${scope}` : 'scope none';
}

@ApiTags('users')
@RequireRole('admin')
@Controller('users')
export class UsersController {
  // A new password, role or scope, or deletion, ends the user's sessions; their open
  // streams and sockets close with them (the `sessions.ended` event).
  constructor(private readonly auth: AuthService) {}

  @Get()
  @ApiOperation({ summary: 'List users' })
  @ApiOkResponse({ type: UserViewDto, isArray: true })
  @ApiErrors(401, 403)
  list(): UserView[] {
    return this.auth.listUsers().map(view);
  }

  @Audited({
    action: 'user.create',
    target: (req) => bodyText(req, 'username'),
    detail: (req, answer) => [bodyText(req, 'role'), scopeNote(req, answer)].filter(Boolean).join(' ') || undefined,
  })
  @Post()
  @ApiOperation({ summary: 'Create a user' })
  @ApiCreatedResponse({ type: UserViewDto })
  @ApiErrors(...BODY_ERRORS, [409, 'The username is taken'])
  async create(@Body() body: CreateUserDto): Promise<UserView> {
    return view(await this.auth.createUser(body.username, body.password, body.role, body.scope ?? null));
  }

  @Audited({
    action: 'user.update',
    target: param('username'),
    detail: (req, answer) =>
      bodyFields(req)
        ?.split(',')
        .map((field) => (field === 'scope' ? scopeNote(req, answer) : field))
        .join(','),
  })
  @Patch(':username')
  @ApiOperation({ summary: "Change a user's role, password or scope; ends the user's sessions" })
  @ApiOkResponse({ type: UserViewDto })
  @ApiErrors(...BODY_ERRORS, [404, 'No such user'])
  async update(@Param('username') username: string, @Body() body: UpdateUserDto): Promise<UserView> {
    return view(await this.auth.updateUser(username, body));
  }

  @Audited({ action: 'user.delete', target: param('username') })
  @Delete(':username')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a user; their sessions end and their live streams and sockets close at once' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(401, 403, [404, 'No such user'])
  async remove(@Param('username') username: string): Promise<void> {
    await this.auth.deleteUser(username);
  }
}
