import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { isDeviceId } from '@iot/protocol';
import type { AuthUser } from '../../../core/auth/auth-user';
import { DeviceAccess } from '../../../core/auth/device-access';
import { DomainError } from '../../../domain/errors';

/** Routes of one device: `devices/{id}` and everything under it. */
const DEVICE_ROUTE = /\/devices\/:id(\/|$)/;

/**
 * After the AuthGuard: a scoped user's request to a device route of a
 * device outside the scope is answered as one to an unknown device (404).
 * An id no device could have is left to the route's pipe (400).
 */
@Injectable()
export class DeviceScopeGuard implements CanActivate {
  constructor(private readonly access: DeviceAccess) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request & { user?: AuthUser }>();
    const user = req.user;
    if (!user || !this.access.limited(user)) return true;
    const path = (req.route as { path?: unknown } | undefined)?.path;
    if (typeof path !== 'string' || !DEVICE_ROUTE.test(path)) return true;
    const id: unknown = req.params.id;
    if (typeof id !== 'string' || !isDeviceId(id) || this.access.sees(user, id)) return true;
    throw new DomainError('not_found', `no device ${id}`);
  }
}
