import { HttpClient } from '@angular/common/http';
import { computed, DestroyRef, inject, Injectable, signal } from '@angular/core';
import { Router } from '@angular/router';
import { type LoginRequest, type LoginResponse, roleSchema, type UserView } from '@iot/protocol';
import { catchError, finalize, map, type Observable, of, timeout } from 'rxjs';
import { apiUrl } from '../api-url';
import { SESSION_STORAGE } from '../browser';

/** What the console keeps about a session: who, and until when. Never the token. */
interface Session {
  user: UserView;
  /** Epoch ms (this browser's clock) when the api's token, and so its cookie, expires. */
  expiresAt: number;
}

export const SESSION_STORAGE_KEY = 'iot.console.session';
export const LOGIN_URL = apiUrl('/auth/login');
export const LOGOUT_URL = apiUrl('/auth/logout');
/** Logging out locally must not wait on a slow network. */
const LOGOUT_TIMEOUT_MS = 5_000;
/** setTimeout's longest delay (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The signed-in user, as a signal.
 *
 * The api sets an httpOnly SameSite cookie on login; it authenticates every
 * same-origin request, EventSource included, so the console never holds the
 * access token. The user (not the token) is kept in sessionStorage so that a
 * reload of the tab stays signed in.
 */
@Injectable({ providedIn: 'root' })
export class AuthService {
  private readonly http = inject(HttpClient);
  private readonly router = inject(Router);
  private readonly storage = inject(SESSION_STORAGE);
  private readonly session = signal<Session | null>(this.restore());
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;

  /** The signed-in user, or null. */
  readonly user = computed(() => this.session()?.user ?? null);
  readonly isAuthenticated = computed(() => this.session() !== null);

  constructor() {
    this.scheduleExpiry();
    inject(DestroyRef).onDestroy(() => clearTimeout(this.expiryTimer));
  }

  /** Signs in; errors are the api's (401 for bad credentials) and are left to the caller to show. */
  login(credentials: LoginRequest): Observable<UserView> {
    return this.http.post<LoginResponse>(LOGIN_URL, credentials, { withCredentials: true }).pipe(
      map((response) => {
        this.start({ user: response.user, expiresAt: Date.now() + response.expiresIn * 1000 });
        return response.user;
      }),
    );
  }

  /**
   * Signs out on the api (which clears the cookie), then locally, then shows the
   * login page. Ends signed out even when the api cannot be reached.
   */
  logout(): Observable<void> {
    return this.http.post<unknown>(LOGOUT_URL, null, { withCredentials: true }).pipe(
      timeout(LOGOUT_TIMEOUT_MS),
      map(() => undefined),
      catchError(() => of(undefined)),
      finalize(() => this.end(false)),
    );
  }

  /**
   * The api answered 401, or the token's lifetime ran out: forget the user and
   * send them to the login page, remembering where they were.
   */
  sessionEnded(): void {
    this.end(true);
  }

  private start(session: Session): void {
    this.session.set(session);
    this.write(session);
    this.scheduleExpiry();
  }

  private end(rememberPage: boolean): void {
    clearTimeout(this.expiryTimer);
    this.session.set(null);
    this.write(null);
    const current = this.router.url;
    const returnUrl = rememberPage && current !== '/' && !current.startsWith('/login') ? current : undefined;
    void this.router.navigate(['/login'], { queryParams: returnUrl ? { returnUrl } : {} });
  }

  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    const session = this.session();
    if (!session) return;
    const remaining = Math.min(session.expiresAt - Date.now(), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => this.sessionEnded(), Math.max(remaining, 0));
  }

  private restore(): Session | null {
    try {
      const raw = this.storage?.getItem(SESSION_STORAGE_KEY);
      if (!raw) return null;
      const session = parseSession(JSON.parse(raw));
      if (session && session.expiresAt > Date.now()) return session;
    } catch {
      // Unreadable: treat as signed out.
    }
    this.write(null);
    return null;
  }

  private write(session: Session | null): void {
    try {
      if (session) this.storage?.setItem(SESSION_STORAGE_KEY, JSON.stringify(session));
      else this.storage?.removeItem(SESSION_STORAGE_KEY);
    } catch {
      // Storage full or blocked: the session still works until the tab reloads.
    }
  }
}

/** Reads what {@link AuthService} wrote, refusing anything else. */
function parseSession(value: unknown): Session | null {
  if (typeof value !== 'object' || value === null) return null;
  const { user, expiresAt } = value as Partial<Record<keyof Session, unknown>>;
  if (typeof expiresAt !== 'number' || typeof user !== 'object' || user === null) return null;
  const { username, role, scope } = user as Partial<Record<keyof UserView, unknown>>;
  const parsedRole = roleSchema.safeParse(role);
  if (typeof username !== 'string' || username.length === 0 || !parsedRole.success) return null;
  return { user: { username, role: parsedRole.data, scope: typeof scope === 'string' ? scope : null }, expiresAt };
}
