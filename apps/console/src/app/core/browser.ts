import { DOCUMENT, inject, InjectionToken } from '@angular/core';

/**
 * The window, behind a token so specs can hand in a fake
 * (as adev's app.config.ts WINDOW token). Null outside a browser.
 */
export const WINDOW = new InjectionToken<Window | null>('WINDOW', {
  providedIn: 'root',
  factory: () => inject(DOCUMENT).defaultView,
});

/** Per-tab storage for the signed-in user (never the token). Null where storage is blocked. */
export const SESSION_STORAGE = new InjectionToken<Storage | null>('SESSION_STORAGE', {
  providedIn: 'root',
  factory: () => {
    try {
      return inject(WINDOW)?.sessionStorage ?? null;
    } catch {
      // Some privacy modes throw on access to sessionStorage.
      return null;
    }
  },
});
