import {
  Body,
  Controller,
  Get,
  HttpCode,
  HttpException,
  HttpStatus,
  Inject,
  Post,
  Req,
  Res,
  UnauthorizedException,
} from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { createZodDto } from 'nestjs-zod';
import {
  type LoginResponse,
  type UserView,
  changePasswordSchema,
  labelSelectorText,
  loginRequestSchema,
} from '@iot/protocol';
import { APP_CONFIG, type AppConfig } from '../../../platform/config/config';
import { ApiErrors, BODY_ERRORS, LoginResponseDto, UserViewDto } from '../docs/api-responses';
import { tokenOf } from './auth.guard';
import { AuthService, SESSION_COOKIE } from '../../../core/auth/auth.service';
import type { AuthUser } from '../../../core/auth/auth-user';
import { CurrentUser, Public } from './decorators';
import { Audited } from '../audit/audited';

class LoginDto extends createZodDto(loginRequestSchema) {}
class ChangePasswordDto extends createZodDto(changePasswordSchema) {}

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Public()
  @Audited({ action: 'auth.login' })
  @Post('login')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Log in: returns a bearer token and sets an httpOnly session cookie; 429 with Retry-After after too many failures',
  })
  @ApiOkResponse({ type: LoginResponseDto, description: 'Logged in; the iot_session cookie is set' })
  @ApiErrors(
    400,
    [401, 'Wrong username or password'],
    [403, 'A session cookie sent from an origin not allowed'],
    413,
    415,
    [429, 'Too many failed logins; see Retry-After'],
  )
  async login(
    @Body() body: LoginDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<LoginResponse> {
    const attempt = await this.auth.login(body.username, body.password, req.ip);
    if (attempt.outcome === 'throttled') {
      const seconds = Math.max(1, Math.ceil(attempt.retryAfterMs / 1000));
      res.setHeader('Retry-After', String(seconds));
      throw new HttpException(`too many failed logins; try again in ${seconds} s`, HttpStatus.TOO_MANY_REQUESTS);
    }
    if (attempt.outcome === 'wrong') throw new UnauthorizedException('wrong username or password');
    const result = attempt.response;
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
  @Audited({ action: 'auth.logout' })
  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'Log out: ends the session of the token or cookie sent, and clears the cookie' })
  @ApiNoContentResponse({ description: 'Logged out' })
  @ApiErrors([403, 'A session cookie sent from an origin not allowed'])
  async logout(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    const token = tokenOf(req);
    if (token !== undefined) await this.auth.logout(token);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
  }

  @Audited({ action: 'auth.password' })
  @Post('password')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Change your own password (the current one is checked as a login is); every session of yours ends',
  })
  @ApiNoContentResponse({ description: 'Changed; log in again' })
  @ApiErrors(...BODY_ERRORS, [503, 'Too many wrong passwords; try again later'])
  async changePassword(@CurrentUser() user: AuthUser, @Body() body: ChangePasswordDto, @Req() req: Request): Promise<void> {
    await this.auth.changeOwnPassword(user.username, body.currentPassword, body.newPassword, req.ip);
  }

  @Get('me')
  @ApiOperation({ summary: 'The logged-in user' })
  @ApiOkResponse({ type: UserViewDto })
  @ApiErrors(401)
  me(@CurrentUser() user: AuthUser): UserView {
    return { username: user.username, role: user.role, scope: user.scope && labelSelectorText(user.scope) };
  }
}
