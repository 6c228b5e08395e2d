import { Body, ConflictException, Controller, Delete, Get, HttpCode, NotFoundException, Param, Patch, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { type UserView, createUserSchema, updateUserSchema } from '@iot/protocol';
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
  // A new password or role, or deletion, ends the user's sessions; their open
  // streams and sockets close with them (AuthService.onSessionsEnded).
  constructor(private readonly auth: AuthService) {}

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
  @ApiOperation({ summary: "Change a user's role or password; ends the user's sessions" })
  async update(@Param('username') username: string, @Body() body: UpdateUserDto): Promise<UserView> {
    const user = await this.auth.updateUser(username, body);
    if (!user) throw new NotFoundException(`no user ${username}`);
    return view(user);
  }

  @Delete(':username')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a user; their sessions end and their live streams and sockets close at once' })
  async remove(@Param('username') username: string): Promise<void> {
    if (!(await this.auth.deleteUser(username))) throw new NotFoundException(`no user ${username}`);
  }
}
