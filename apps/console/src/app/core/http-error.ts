import { HttpErrorResponse } from '@angular/common/http';
import type { ApiError } from '@iot/protocol';

/** A sentence an operator can act on, from whatever an HTTP call failed with. */
export function describeHttpError(error: unknown): string {
  if (!(error instanceof HttpErrorResponse)) {
    return error instanceof Error ? error.message : 'Something went wrong.';
  }
  if (error.status === 0) return 'Cannot reach the platform. Check the network and try again.';
  const body = error.error as Partial<ApiError> | string | null;
  const message = typeof body === 'object' && body !== null && typeof body.message === 'string' ? body.message : '';
  if (message) return message;
  if (error.status >= 500) return `The platform failed (HTTP ${error.status}). Try again shortly.`;
  return `The request was refused (HTTP ${error.status}).`;
}
