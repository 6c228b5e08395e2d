import { computed, inject, type Signal } from '@angular/core';
import { roleAtLeast } from '@iot/protocol';
import { AuthService } from '../core/auth/auth.service';

/**
 * Whether the signed-in user is an admin, as a signal (call in an injection
 * context). It only decides what is shown: the api checks the role itself on
 * every request.
 */
export function injectIsAdmin(): Signal<boolean> {
  const auth = inject(AuthService);
  return computed(() => {
    const user = auth.user();
    return user !== null && roleAtLeast(user.role, 'admin');
  });
}
