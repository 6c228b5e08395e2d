import { type ExecutionContext, SetMetadata, createParamDecorator } from '@nestjs/common';
import type { Role } from '@iot/protocol';

export interface AuthUser {
  username: string;
  role: Role;
  /** The login this request came with: ended by logout, a new password or role, or deletion. */
  sessionId: string;
}

export const PUBLIC_KEY = 'iot:public';
export const ROLE_KEY = 'iot:role';

/** The route needs no login (health, metrics, login itself). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

/** The least role the route needs; every authenticated route needs at least `viewer`. */
export const RequireRole = (role: Role) => SetMetadata(ROLE_KEY, role);

/** The user the request was authenticated as. */
export const CurrentUser = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): AuthUser => ctx.switchToHttp().getRequest<{ user: AuthUser }>().user,
);
