import { type ExecutionContext, SetMetadata, createParamDecorator } from '@nestjs/common';
import type { Role } from '@iot/protocol';
import type { AuthUser } from '../../../core/auth/auth-user';

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
