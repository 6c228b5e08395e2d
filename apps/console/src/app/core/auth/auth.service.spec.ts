import { HttpErrorResponse, provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { provideRouter, Router } from '@angular/router';
import type { UserView } from '@iot/protocol';
import { SESSION_STORAGE } from '../browser';
import { aLoginResponse, aUser } from '../testing/factories';
import { MemoryStorage } from '../testing/memory-storage';
import { AuthService, LOGIN_URL, LOGOUT_URL, SESSION_STORAGE_KEY } from './auth.service';

describe('AuthService', () => {
  const NOW = 1_700_000_000_000;
  let storage: MemoryStorage;
  let http: HttpTestingController;
  let navigate: jest.SpyInstance;

  function create(): AuthService {
    TestBed.configureTestingModule({
      providers: [
        provideHttpClient(),
        provideHttpClientTesting(),
        provideRouter([]),
        { provide: SESSION_STORAGE, useValue: storage },
      ],
    });
    http = TestBed.inject(HttpTestingController);
    navigate = jest.spyOn(TestBed.inject(Router), 'navigate').mockResolvedValue(true);
    return TestBed.inject(AuthService);
  }

  function store(user: UserView, expiresAt: number): void {
    storage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ user, expiresAt }));
  }

  beforeEach(() => {
    jest.useFakeTimers();
    jest.setSystemTime(NOW);
    storage = new MemoryStorage();
  });

  afterEach(() => {
    http.verify();
    TestBed.resetTestingModule();
    jest.useRealTimers();
  });

  describe('login', () => {
    it('posts the credentials with the cookie allowed, and keeps the user (not the token)', () => {
      const sut = create();
      let result: UserView | undefined;

      sut.login({ username: 'ada', password: 'pw' }).subscribe((user) => (result = user));
      const request = http.expectOne(LOGIN_URL);
      expect(request.request.method).toBe('POST');
      expect(request.request.url).toBe('/api/v1/auth/login');
      expect(request.request.withCredentials).toBe(true);
      expect(request.request.body).toEqual({ username: 'ada', password: 'pw' });
      request.flush(aLoginResponse({ accessToken: 'tok-123', user: aUser({ username: 'ada', role: 'admin' }) }));

      expect(result).toEqual({ username: 'ada', role: 'admin', scope: null });
      expect(sut.user()).toEqual({ username: 'ada', role: 'admin', scope: null });
      expect(sut.isAuthenticated()).toBe(true);
      const saved = storage.getItem(SESSION_STORAGE_KEY) ?? '';
      expect(JSON.parse(saved)).toEqual({
        user: { username: 'ada', role: 'admin', scope: null },
        expiresAt: NOW + 3_600_000,
      });
      expect(saved).not.toContain('tok-123');
    });

    it('stays signed out and passes the error on when the api refuses', () => {
      const sut = create();
      let error: unknown;

      sut.login({ username: 'ada', password: 'wrong' }).subscribe({ error: (e: unknown) => (error = e) });
      http.expectOne(LOGIN_URL).flush({ message: 'bad credentials' }, { status: 401, statusText: 'Unauthorized' });

      expect(error).toBeInstanceOf(HttpErrorResponse);
      expect((error as HttpErrorResponse).status).toBe(401);
      expect(sut.user()).toBeNull();
      expect(storage.getItem(SESSION_STORAGE_KEY)).toBeNull();
    });
  });

  describe('after a reload', () => {
    it('restores the user from sessionStorage', () => {
      store(aUser({ username: 'grace', role: 'viewer' }), NOW + 60_000);
      const sut = create();
      expect(sut.user()).toEqual({ username: 'grace', role: 'viewer', scope: null });
      expect(sut.isAuthenticated()).toBe(true);
    });

    it('forgets a session whose token has expired', () => {
      store(aUser(), NOW - 1);
      const sut = create();
      expect(sut.user()).toBeNull();
      expect(storage.getItem(SESSION_STORAGE_KEY)).toBeNull();
    });

    it.each([
      ['not JSON', '{'],
      ['no user', JSON.stringify({ expiresAt: NOW + 60_000 })],
      ['an unknown role', JSON.stringify({ user: { username: 'x', role: 'root' }, expiresAt: NOW + 60_000 })],
      ['an empty username', JSON.stringify({ user: { username: '', role: 'admin' }, expiresAt: NOW + 60_000 })],
    ])('ignores a stored session with %s', (_case, raw) => {
      storage.setItem(SESSION_STORAGE_KEY, raw);
      expect(create().user()).toBeNull();
    });
  });

  describe('logout', () => {
    it('posts to the api, then forgets the user and shows the login page', () => {
      store(aUser(), NOW + 60_000);
      const sut = create();
      let completed = false;

      sut.logout().subscribe({ complete: () => (completed = true) });
      const request = http.expectOne(LOGOUT_URL);
      expect(request.request.method).toBe('POST');
      expect(request.request.withCredentials).toBe(true);
      expect(sut.user()).not.toBeNull(); // the cookie is cleared first
      request.flush(null, { status: 204, statusText: 'No Content' });

      expect(completed).toBe(true);
      expect(sut.user()).toBeNull();
      expect(storage.getItem(SESSION_STORAGE_KEY)).toBeNull();
      expect(navigate).toHaveBeenCalledWith(['/login'], { queryParams: {} });
    });

    it('ends signed out even when the api fails', () => {
      store(aUser(), NOW + 60_000);
      const sut = create();
      let failed = false;

      sut.logout().subscribe({ error: () => (failed = true) });
      http.expectOne(LOGOUT_URL).flush(null, { status: 500, statusText: 'Server Error' });

      expect(failed).toBe(false);
      expect(sut.user()).toBeNull();
    });

    it('does not wait more than 5 s for the api', () => {
      store(aUser(), NOW + 60_000);
      const sut = create();
      sut.logout().subscribe();
      const request = http.expectOne(LOGOUT_URL);

      jest.advanceTimersByTime(5_000);

      expect(request.cancelled).toBe(true);
      expect(sut.user()).toBeNull();
    });
  });

  describe('when the session ends', () => {
    it('forgets the user and sends them to the login page, remembering where they were', () => {
      store(aUser(), NOW + 60_000);
      const sut = create();
      jest.spyOn(TestBed.inject(Router), 'url', 'get').mockReturnValue('/devices/pump-1');

      sut.sessionEnded();

      expect(sut.user()).toBeNull();
      expect(storage.getItem(SESSION_STORAGE_KEY)).toBeNull();
      expect(navigate).toHaveBeenCalledWith(['/login'], { queryParams: { returnUrl: '/devices/pump-1' } });
    });

    it('ends it by itself when the token expires', () => {
      store(aUser(), NOW + 60_000);
      const sut = create();

      jest.advanceTimersByTime(59_999);
      expect(sut.isAuthenticated()).toBe(true);
      jest.advanceTimersByTime(1);

      expect(sut.isAuthenticated()).toBe(false);
      expect(navigate).toHaveBeenCalledWith(['/login'], { queryParams: {} });
    });
  });
});
