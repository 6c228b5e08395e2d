import { ChangeDetectionStrategy, Component, effect, inject, untracked } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatToolbar } from '@angular/material/toolbar';
import { RouterLink, RouterOutlet } from '@angular/router';
import { roleAtLeast } from '@iot/protocol';
import { AuthService } from './core/auth/auth.service';
import { ControlService } from './core/control/control.service';
import { StreamService } from './core/stream/stream.service';
import { ConnectionStatus } from './ui/connection-status';

/** The shell: toolbar (connection state, user, sign out) above the routed page. */
@Component({
  selector: 'iot-root',
  imports: [RouterOutlet, RouterLink, MatToolbar, MatButton, ConnectionStatus],
  templateUrl: './app.html',
  styleUrl: './app.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class App {
  protected readonly auth = inject(AuthService);
  protected readonly stream = inject(StreamService);
  protected readonly control = inject(ControlService);

  constructor() {
    // One stream per tab, open exactly while someone is signed in.
    effect(() => {
      const signedIn = this.auth.isAuthenticated();
      untracked(() => (signedIn ? this.stream.start() : this.stream.stop()));
    });
    // The control connection may be used while an operator or admin is signed in;
    // it connects lazily, when a page first needs it.
    const control = this.control;
    effect(() => {
      const user = this.auth.user();
      const allowed = user !== null && roleAtLeast(user.role, 'operator');
      untracked(() => (allowed ? control.enable() : control.disable()));
    });
  }

  protected signOut(): void {
    this.auth.logout().subscribe();
  }
}
