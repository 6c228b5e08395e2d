import { ChangeDetectionStrategy, Component, inject, input } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { Router } from '@angular/router';
import type { AdminDevice } from './admin-device';
import { injectIsAdmin } from './admin-role';
import { openDeleteDeviceDialog } from './delete-device-dialog';
import { openRotateSecretDialog } from './rotate-secret-dialog';

/**
 * A device's admin actions, for its page: rotate the secret (confirm, then
 * the new secret once) and delete the device (type its id, then back to the
 * fleet). Renders nothing unless an admin is signed in, so a page may place
 * it unconditionally:
 *
 * ```html
 * <iot-device-admin-card [device]="device" />
 * ```
 */
@Component({
  selector: 'iot-device-admin-card',
  imports: [MatButton],
  template: `
    @if (isAdmin()) {
      <section class="card" aria-labelledby="device-admin-title">
        <h2 id="device-admin-title">Administration</h2>
        <div class="action">
          <p>
            <strong>Rotate secret</strong><br />
            <span class="muted">Issues a new secret; the device is cut off until it is given the new one.</span>
          </p>
          <button mat-stroked-button type="button" (click)="rotate()">Rotate secret</button>
        </div>
        <div class="action">
          <p>
            <strong>Delete device</strong><br />
            <span class="muted">Removes it with its history and revokes its secret.</span>
          </p>
          <button mat-stroked-button type="button" class="danger" (click)="remove()">Delete device</button>
        </div>
      </section>
    }
  `,
  styleUrls: ['../device/device-cards.scss', './device-admin-card.scss'],
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class DeviceAdminCard {
  /** The device to administer: `id` is what the api is called with, `name` what the dialogs show. */
  readonly device = input.required<AdminDevice>();

  protected readonly isAdmin = injectIsAdmin();
  private readonly dialog = inject(MatDialog);
  private readonly router = inject(Router);

  protected rotate(): void {
    openRotateSecretDialog(this.dialog, this.device());
  }

  protected remove(): void {
    openDeleteDeviceDialog(this.dialog, this.device())
      .afterClosed()
      .subscribe((deleted) => {
        if (deleted) void this.router.navigate(['/']);
      });
  }
}
