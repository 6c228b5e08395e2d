import { signal } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { type ActivatedRouteSnapshot, provideRouter, type RouterStateSnapshot, UrlTree } from '@angular/router';
import { strictMock } from '../testing/strict-mock';
import { authGuard, guestGuard } from './auth.guard';
import { AuthService } from './auth.service';

describe('auth guards', () => {
  const signedIn = signal(false);
  const route = {} as ActivatedRouteSnapshot;
  const at = (url: string) => ({ url }) as RouterStateSnapshot;

  beforeEach(() => {
    signedIn.set(false);
    TestBed.configureTestingModule({
      providers: [
        provideRouter([]),
        { provide: AuthService, useValue: strictMock<AuthService>({ isAuthenticated: signedIn }, 'AuthService') },
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
});
