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

/** Offers text to the user as a file download; a token so specs can catch it (jsdom has no object URLs). */
export const SAVE_FILE = new InjectionToken<(name: string, type: string, text: string) => void>('SAVE_FILE', {
  providedIn: 'root',
  factory: () => {
    const document = inject(DOCUMENT);
    return (name, type, text) => {
      const url = URL.createObjectURL(new Blob([text], { type }));
      const link = document.createElement('a');
      link.href = url;
      link.download = name;
      link.click();
      // The download has started by now; the URL is not needed after.
      setTimeout(() => URL.revokeObjectURL(url));
    };
  },
});
