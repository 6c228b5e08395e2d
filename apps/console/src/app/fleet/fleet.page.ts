import { BreakpointObserver } from '@angular/cdk/layout';
import { CdkFixedSizeVirtualScroll, CdkVirtualForOf, CdkVirtualScrollViewport } from '@angular/cdk/scrolling';
import { ChangeDetectionStrategy, Component, computed, DestroyRef, inject, signal } from '@angular/core';
import { takeUntilDestroyed, toSignal } from '@angular/core/rxjs-interop';
import { MatButton, MatIconButton } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { MatFormField, MatHint, MatLabel, MatSuffix } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { MatProgressBar } from '@angular/material/progress-bar';
import { Router } from '@angular/router';
import { labelSelectorSchema } from '@iot/protocol';
import { map } from 'rxjs';
import { injectIsAdmin } from '../admin/admin-role';
import { openRegisterDeviceDialog } from '../admin/register-device-dialog';
import { StreamService } from '../core/stream/stream.service';
import { Clock } from '../core/time/clock';
import { DeviceRow } from './device-row';
import { type FleetEntry, FleetStore } from './fleet.store';

/** Phones get three-line rows; the same width as the `max-width` media queries in the styles. */
const PHONE = '(max-width: 599.98px)';
const ROW_HEIGHT = 48;
const PHONE_ROW_HEIGHT = 76;

/** Every device, live: counts, search, and a virtual-scrolled list that stays smooth at thousands of rows. */
@Component({
  selector: 'iot-fleet-page',
  imports: [
    CdkVirtualScrollViewport,
    CdkFixedSizeVirtualScroll,
    CdkVirtualForOf,
    MatFormField,
    MatLabel,
    MatHint,
    MatSuffix,
    MatInput,
    MatButton,
    MatIconButton,
    MatProgressBar,
    DeviceRow,
  ],
  providers: [FleetStore],
  templateUrl: './fleet.page.html',
  styleUrl: './fleet.page.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class FleetPage {
  protected readonly store = inject(FleetStore);
  protected readonly clock = inject(Clock);
  private readonly stream = inject(StreamService);
  private readonly phone = toSignal(
    inject(BreakpointObserver)
      .observe(PHONE)
      .pipe(map((state) => state.matches)),
    { initialValue: false },
  );

  protected readonly rowHeight = computed(() => (this.phone() ? PHONE_ROW_HEIGHT : ROW_HEIGHT));
  /** Values are shown as current only while the stream is live. */
  protected readonly stale = computed(() => !this.stream.live());
  protected readonly trackById = (_index: number, entry: FleetEntry) => entry.id;

  private readonly router = inject(Router);
  private readonly dialog = inject(MatDialog);
  private readonly destroyRef = inject(DestroyRef);
  /** Admins may register devices. */
  protected readonly isAdmin = injectIsAdmin();

  /** Opens a device's page (a row was clicked, or Enter pressed on it). */
  protected open(entry: FleetEntry): void {
    void this.router.navigate(['/devices', entry.id]);
  }

  /** Opens the register dialog; a registered device is in the list once the dialog closes. */
  protected register(): void {
    openRegisterDeviceDialog(this.dialog)
      .afterClosed()
      // The dialog may close on its way to the new device's page, and this page with it.
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe((device) => {
        if (device) this.store.reload();
      });
  }

  protected readonly filtered = computed(() => {
    const { labels, type, online } = this.store.filter();
    return !!labels || !!type || online !== undefined;
  });
  /** Why the label filter cannot be sent, or null. */
  protected readonly filterError = signal<string | null>(null);

  /** Sends the filters to the api (on Enter, or when a field changes); a malformed label selector is not sent. */
  protected applyFilter(event: Event): void {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value.trim() ?? '';
    const labels = value('labels');
    const parsed = labels ? labelSelectorSchema.safeParse(labels) : null;
    if (parsed && !parsed.success) {
      this.filterError.set(parsed.error.issues[0]?.message ?? 'not a label selector');
      return;
    }
    this.filterError.set(null);
    const online = value('online');
    const filter = {
      labels: labels || undefined,
      type: value('type') || undefined,
      online: online === '' ? undefined : online === 'true',
    };
    const current = this.store.filter();
    if (current.labels === filter.labels && current.type === filter.type && current.online === filter.online) return;
    this.store.setFilter(filter);
  }

  protected search(event: Event): void {
    this.store.query.set((event.target as HTMLInputElement).value);
  }
}
