import { signal } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { type ActivatedRouteSnapshot, provideRouter, type RouterStateSnapshot, UrlTree } from '@angular/router';
import type { UserView } from '@iot/protocol';
import { strictMock } from '../testing/strict-mock';
import { aUser } from '../testing/factories';
import { adminGuard, authGuard, guestGuard } from './auth.guard';
import { AuthService } from './auth.service';

describe('auth guards', () => {
  const signedIn = signal(false);
  const user = signal<UserView | null>(null);
  const route = {} as ActivatedRouteSnapshot;
  const at = (url: string) => ({ url }) as RouterStateSnapshot;

  beforeEach(() => {
    signedIn.set(false);
    user.set(null);
    TestBed.configureTestingModule({
      providers: [
        provideRouter([]),
        { provide: AuthService, useValue: strictMock<AuthService>({ isAuthenticated: signedIn, user }, 'AuthService') },
      ],
    });
  });

  const run = (guard: typeof authGuard, url = '/') => TestBed.runInInjectionContext(() => guard(route, at(url)));

  it('lets a signed-in user in', () => {
    signedIn.set(true);
    expect(run(authGuard)).toBe(true);
  });

  it('sends anyone else to /login with the page to come back to', () => {
    const result = run(authGuard, '/devices/pump-1');
    expect(result).toBeInstanceOf(UrlTree);
    expect(String(result)).toBe('/login?returnUrl=%2Fdevices%2Fpump-1');
    expect(String(run(authGuard, '/'))).toBe('/login');
  });

  it('keeps a signed-in user off the login page', () => {
    expect(run(guestGuard)).toBe(true);
    signedIn.set(true);
    expect(String(run(guestGuard))).toBe('/');
  });

  it('lets admins only onto admin pages, sending anyone else to the fleet', () => {
    user.set(aUser({ role: 'admin' }));
    expect(run(adminGuard, '/admin/users')).toBe(true);
    user.set(aUser({ role: 'operator' }));
    expect(String(run(adminGuard, '/admin/users'))).toBe('/');
    user.set(null);
    expect(String(run(adminGuard, '/admin/users'))).toBe('/');
  });
});
