import { DestroyRef, inject, type Signal, signal, type WritableSignal } from '@angular/core';
import type { Observable, Subscription } from 'rxjs';
import { describeHttpError } from '../core/http-error';

export interface PageList<T> {
  /** The list as shown; the page may change an item in it after an action of its own. */
  readonly items: WritableSignal<readonly T[]>;
  readonly loading: Signal<boolean>;
  /** The last load's error as shown; the page also shows its own actions' errors here. */
  readonly error: WritableSignal<string | null>;
  /** Loads the list again, dropping a load still under way; the items shown stay until the new ones come. */
  reload(): void;
}

/**
 * The list an admin page shows (users, webhooks, alarm rules): loaded from
 * the api, with its loading and error state, and dropped with the page.
 * `what` names it in the error: "Could not load the users: …".
 */
export function pageList<T>(load: () => Observable<readonly T[]>, what: string): PageList<T> {
  const items = signal<readonly T[]>([]);
  const loading = signal(true);
  const error = signal<string | null>(null);
  let current: Subscription | undefined;
  inject(DestroyRef).onDestroy(() => current?.unsubscribe());
  return {
    items,
    loading: loading.asReadonly(),
    error,
    reload() {
      current?.unsubscribe();
      loading.set(true);
      error.set(null);
      current = load().subscribe({
        next: (list) => {
          items.set(list);
          loading.set(false);
        },
        error: (cause: unknown) => {
          loading.set(false);
          error.set(`Could not load ${what}: ${describeHttpError(cause)}`);
        },
      });
    },
  };
}
