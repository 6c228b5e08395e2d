import { type CanActivate, type ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { type Role, roleAtLeast } from '@iot/protocol';
import { AuthService, SESSION_COOKIE } from './auth.service';
import { type AuthUser, PUBLIC_KEY, ROLE_KEY } from './decorators';

/** Reads a bearer token or the session cookie from an HTTP request (or a WebSocket upgrade). */
export function tokenOf(req: Pick<Request, 'headers'> & { cookies?: Record<string, string> }): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || undefined;
  return req.cookies?.[SESSION_COOKIE] || undefined;
}

/**
 * Every route needs a logged-in user unless marked `@Public()`, and at least
 * the role named by `@RequireRole()` (viewer by default).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const req = context.switchToHttp().getRequest<Request & { user?: AuthUser }>();
    const token = tokenOf(req);
    if (!token) throw new UnauthorizedException('log in first: send a Bearer token or the session cookie');
    const user = await this.auth.verifyToken(token);
    if (!user) throw new UnauthorizedException('the session is invalid or has expired; log in again');
    const required = this.reflector.getAllAndOverride<Role>(ROLE_KEY, targets) ?? 'viewer';
    if (!roleAtLeast(user.role, required)) {
      throw new ForbiddenException(`this needs the ${required} role; you are ${user.role}`);
    }
    req.user = user;
    return true;
  }
}
