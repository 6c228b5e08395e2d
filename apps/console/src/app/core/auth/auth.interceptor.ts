import { HttpErrorResponse, type HttpInterceptorFn, HttpStatusCode } from '@angular/common/http';
import { inject } from '@angular/core';
import { tap } from 'rxjs';
import { apiUrl, isApiUrl } from '../api-url';
import { AuthService } from './auth.service';

const AUTH_PREFIX = apiUrl('/auth/');

/**
 * Every api request carries the session cookie, and any 401 from the api
 * (other than a failed login) ends the session and shows the login page.
 */
export const authInterceptor: HttpInterceptorFn = (req, next) => {
  if (!isApiUrl(req.url)) return next(req);
  const auth = inject(AuthService);
  const request = req.withCredentials ? req : req.clone({ withCredentials: true });
  return next(request).pipe(
    tap({
      error: (error: unknown) => {
        const unauthorized = error instanceof HttpErrorResponse && error.status === HttpStatusCode.Unauthorized;
        if (unauthorized && !req.url.startsWith(AUTH_PREFIX)) auth.sessionEnded();
      },
    }),
  );
};
