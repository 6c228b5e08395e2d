import { HttpClient } from '@angular/common/http';
import { inject, Injectable } from '@angular/core';
import type { ChangePasswordRequest, Role, UserView } from '@iot/protocol';
import { map, type Observable } from 'rxjs';
import { apiUrl } from '../api-url';

export const USERS_URL = apiUrl('/users');
export const OWN_PASSWORD_URL = apiUrl('/auth/password');
/** `/users/{username}`, encoded: usernames may hold `@` and `.`. */
export const userUrl = (username: string) => `${USERS_URL}/${encodeURIComponent(username)}`;

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  /** A label selector limiting the devices the user sees (`site=a`); absent or null: every device. */
  scope?: string | null;
}

/** The users part of the REST api (admin), and a user's own password. */
@Injectable({ providedIn: 'root' })
export class UsersApi {
  private readonly http = inject(HttpClient);

  list(): Observable<UserView[]> {
    return this.http.get<UserView[]>(USERS_URL, { withCredentials: true });
  }

  /** 409 when the username is taken, 400 naming what is wrong. */
  create(user: NewUser): Observable<UserView> {
    return this.http.post<UserView>(USERS_URL, user, { withCredentials: true });
  }

  /** Changes a user's role, password or scope (null: every device); the api ends that user's sessions. */
  update(username: string, change: { role?: Role; password?: string; scope?: string | null }): Observable<void> {
    return this.http.patch(userUrl(username), change, { withCredentials: true }).pipe(map(() => undefined));
  }

  remove(username: string): Observable<void> {
    return this.http.delete(userUrl(username), { withCredentials: true }).pipe(map(() => undefined));
  }

  /** The signed-in user's own password; on success every session of the user has ended. */
  changeOwnPassword(request: ChangePasswordRequest): Observable<void> {
    return this.http.post(OWN_PASSWORD_URL, request, { withCredentials: true }).pipe(map(() => undefined));
  }
}
