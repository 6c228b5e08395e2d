import { ChangeDetectionStrategy, Component, effect, inject, untracked } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { MatToolbar } from '@angular/material/toolbar';
import { RouterLink, RouterLinkActive, RouterOutlet } from '@angular/router';
import { roleAtLeast } from '@iot/protocol';
import { openChangePasswordDialog } from './account/change-password-dialog';
import { injectIsAdmin } from './admin/admin-role';
import { AuthService } from './core/auth/auth.service';
import { OpenAlarms } from './core/alarms/open-alarms';
import { ControlService } from './core/control/control.service';
import { StreamService } from './core/stream/stream.service';
import { ConnectionStatus } from './ui/connection-status';

/** The shell: toolbar (alarms with the open count, admin pages, connection state, user, password, sign out) above the routed page. */
@Component({
  selector: 'iot-root',
  imports: [RouterOutlet, RouterLink, RouterLinkActive, MatToolbar, MatButton, ConnectionStatus],
  templateUrl: './app.html',
  styleUrl: './app.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class App {
  protected readonly auth = inject(AuthService);
  protected readonly stream = inject(StreamService);
  protected readonly control = inject(ControlService);
  protected readonly openAlarms = inject(OpenAlarms);
  protected readonly isAdmin = injectIsAdmin();
  private readonly dialog = inject(MatDialog);

  constructor() {
    // One stream per tab, open exactly while someone is signed in.
    effect(() => {
      const signedIn = this.auth.isAuthenticated();
      untracked(() => {
        if (signedIn) {
          this.stream.start();
          this.openAlarms.start();
        } else {
          this.stream.stop();
          this.openAlarms.stop();
        }
      });
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

  protected changePassword(): void {
    openChangePasswordDialog(this.dialog);
  }

  protected signOut(): void {
    this.auth.logout().subscribe();
  }
}
