import { ChangeDetectionStrategy, Component, effect, inject, untracked } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatToolbar } from '@angular/material/toolbar';
import { RouterLink, RouterOutlet } from '@angular/router';
import { AuthService } from './core/auth/auth.service';
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

  constructor() {
    // One stream per tab, open exactly while someone is signed in.
    effect(() => {
      const signedIn = this.auth.isAuthenticated();
      untracked(() => (signedIn ? this.stream.start() : this.stream.stop()));
    });
  }

  protected signOut(): void {
    this.auth.logout().subscribe();
  }
}
