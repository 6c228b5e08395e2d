import { inject, type Signal, signal, type WritableSignal } from '@angular/core';
import { MatDialogRef } from '@angular/material/dialog';
import type { Observable } from 'rxjs';
import { describeHttpError } from '../core/http-error';

export interface DialogRequest {
  readonly pending: Signal<boolean>;
  /** The last request's error as shown; the dialog may also set its own. */
  readonly error: WritableSignal<string | null>;
  /**
   * Sends `request` unless one is pending. The dialog stays open meanwhile, so
   * the outcome is not lost. `next` usually closes the dialog; `failed` may
   * word the error, or handle it and return null (the dialog then stays held).
   */
  run<T>(request: Observable<T>, next: (value: T) => void, failed?: (error: unknown) => string | null): void;
}

/** The pending and error state of a dialog that sends one request and closes on success. */
export function dialogRequest(): DialogRequest {
  const dialogRef = inject(MatDialogRef);
  const pending = signal(false);
  const error = signal<string | null>(null);
  return {
    pending: pending.asReadonly(),
    error,
    run(request, next, failed = describeHttpError) {
      if (pending()) return;
      pending.set(true);
      error.set(null);
      dialogRef.disableClose = true;
      request.subscribe({
        next,
        error: (cause: unknown) => {
          const message = failed(cause);
          if (message === null) return;
          pending.set(false);
          dialogRef.disableClose = false;
          error.set(message);
        },
      });
    },
  };
}
