import { HttpErrorResponse, HttpStatusCode } from '@angular/common/http';
import { describeHttpError } from '../core/http-error';

/** Why signing in failed, in words: wrong credentials are not a server fault. */
export function describeLoginError(error: unknown): string {
  if (error instanceof HttpErrorResponse) {
    if (error.status === HttpStatusCode.Unauthorized) return 'Wrong username or password.';
    if (error.status === HttpStatusCode.TooManyRequests) return 'Too many attempts. Wait a minute, then try again.';
  }
  return describeHttpError(error);
}
