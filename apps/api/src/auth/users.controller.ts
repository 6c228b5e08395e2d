import { Body, ConflictException, Controller, Delete, Get, HttpCode, NotFoundException, Param, Patch, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { type UserView, createUserSchema, updateUserSchema } from '@iot/protocol';
import { ControlGateway } from '../gateway/control.gateway';
import { StreamHub } from '../stream/stream-hub.service';
import { AuthService } from './auth.service';
import { RequireRole } from './decorators';

class CreateUserDto extends createZodDto(createUserSchema) {}
class UpdateUserDto extends createZodDto(updateUserSchema) {}

function view(user: { username: string; role: UserView['role'] }): UserView {
  return { username: user.username, role: user.role };
}

@ApiTags('users')
@RequireRole('admin')
@Controller('users')
export class UsersController {
  constructor(
    private readonly auth: AuthService,
    private readonly hub: StreamHub,
    private readonly gateway: ControlGateway,
  ) {}

  /** A user's live streams and sockets end when the user goes or changes role. */
  private endSessions(username: string): void {
    this.hub.closeUser(username);
    this.gateway.closeUser(username);
  }

  @Get()
  @ApiOperation({ summary: 'List users' })
  list(): UserView[] {
    return this.auth.listUsers().map(view);
  }

  @Post()
  @ApiOperation({ summary: 'Create a user' })
  async create(@Body() body: CreateUserDto): Promise<UserView> {
    const user = await this.auth.createUser(body.username, body.password, body.role);
    if (!user) throw new ConflictException(`user ${body.username} exists`);
    return view(user);
  }

  @Patch(':username')
  @ApiOperation({ summary: "Change a user's role or password" })
  async update(@Param('username') username: string, @Body() body: UpdateUserDto): Promise<UserView> {
    const user = await this.auth.updateUser(username, body);
    if (!user) throw new NotFoundException(`no user ${username}`);
    if (body.role !== undefined) this.endSessions(username);
    return view(user);
  }

  @Delete(':username')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a user; their live streams close at once' })
  async remove(@Param('username') username: string): Promise<void> {
    if (!(await this.auth.deleteUser(username))) throw new NotFoundException(`no user ${username}`);
    this.endSessions(username);
  }
}
