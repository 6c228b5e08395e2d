import { inject } from '@angular/core';
import { type CanActivateFn, Router } from '@angular/router';
import { roleAtLeast } from '@iot/protocol';
import { AuthService } from './auth.service';

/** Pages that need a signed-in user: everyone else goes to /login, and comes back after. */
export const authGuard: CanActivateFn = (_route, state) => {
  if (inject(AuthService).isAuthenticated()) return true;
  const returnUrl = state.url === '/' ? undefined : state.url;
  return inject(Router).createUrlTree(['/login'], { queryParams: returnUrl ? { returnUrl } : {} });
};

/** The login page: a signed-in user has nothing to do there. */
export const guestGuard: CanActivateFn = () =>
  inject(AuthService).isAuthenticated() ? inject(Router).createUrlTree(['/']) : true;

/** Admin pages: anyone else is shown the fleet. The api checks the role on every request itself. */
export const adminGuard: CanActivateFn = () => {
  const user = inject(AuthService).user();
  return user !== null && roleAtLeast(user.role, 'admin') ? true : inject(Router).createUrlTree(['/']);
};
