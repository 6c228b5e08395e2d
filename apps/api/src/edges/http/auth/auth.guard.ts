import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { type Role, roleAtLeast } from '@iot/protocol';
import { AuthService, SESSION_COOKIE } from '../../../core/auth/auth.service';
import type { AuthUser } from '../../../core/auth/auth-user';
import { PUBLIC_KEY, ROLE_KEY } from './decorators';

/** Reads a bearer token or the session cookie from an HTTP request (or a WebSocket upgrade). */
export function tokenOf(req: Pick<Request, 'headers'> & { cookies?: Record<string, string> }): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || undefined;
  return req.cookies?.[SESSION_COOKIE] || undefined;
}

/** Why a request is refused: 401 without a valid session, 403 when the role is too low. */
export interface AuthRefusal {
  status: 401 | 403;
  message: string;
}

/**
 * The guard's rule, also used by routes served before Nest (the SSE stream):
 * a valid token of a user who still exists, with at least `required`.
 */
export async function authenticate(
  auth: AuthService,
  token: string | undefined,
  required: Role,
): Promise<{ user: AuthUser } | AuthRefusal> {
  if (!token) return { status: 401, message: 'log in first: send a Bearer token or the session cookie' };
  const user = await auth.verifyToken(token);
  if (!user) return { status: 401, message: 'the session is invalid or has expired; log in again' };
  if (!roleAtLeast(user.role, required)) {
    return { status: 403, message: `this needs the ${required} role; you are ${user.role}` };
  }
  return { user };
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
    const required = this.reflector.getAllAndOverride<Role>(ROLE_KEY, targets) ?? 'viewer';
    const result = await authenticate(this.auth, tokenOf(req), required);
    if ('status' in result) {
      throw result.status === 401 ? new UnauthorizedException(result.message) : new ForbiddenException(result.message);
    }
    req.user = result.user;
    return true;
  }
}
