import { Body, Controller, Get, HttpCode, Inject, Post, Res, UnauthorizedException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { createZodDto } from 'nestjs-zod';
import { type LoginResponse, loginRequestSchema } from '@iot/protocol';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { AuthService, SESSION_COOKIE } from './auth.service';
import { type AuthUser, CurrentUser, Public } from './decorators';

class LoginDto extends createZodDto(loginRequestSchema) {}

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Log in: returns a bearer token and sets an httpOnly session cookie' })
  async login(@Body() body: LoginDto, @Res({ passthrough: true }) res: Response): Promise<LoginResponse> {
    const result = await this.auth.login(body.username, body.password);
    if (!result) throw new UnauthorizedException('wrong username or password');
    res.cookie(SESSION_COOKIE, result.accessToken, {
      httpOnly: true,
      sameSite: 'strict',
      secure: this.config.production,
      path: '/',
      maxAge: result.expiresIn * 1000,
    });
    return result;
  }

  @Public()
  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'Log out: clears the session cookie' })
  logout(@Res({ passthrough: true }) res: Response): void {
    res.clearCookie(SESSION_COOKIE, { path: '/' });
  }

  @Get('me')
  @ApiOperation({ summary: 'The logged-in user' })
  me(@CurrentUser() user: AuthUser): AuthUser {
    return user;
  }
}
