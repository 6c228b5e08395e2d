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
import { labelSelectorSchema, type ModelRef, roleAtLeast } from '@iot/protocol';
import { map } from 'rxjs';
import { injectIsAdmin } from '../admin/admin-role';
import { openRegisterDeviceDialog } from '../admin/register-device-dialog';
import { AuthService } from '../core/auth/auth.service';
import type { BulkTarget } from '../core/bulk/bulk-api';
import { StreamService } from '../core/stream/stream.service';
import { Clock } from '../core/time/clock';
import { openBulkActionDialog } from './bulk-action-dialog';
import { DeviceRow } from './device-row';
import { type FleetEntry, FleetStore } from './fleet.store';

/** Phones get three-line rows; the same width as the `max-width` media queries in the styles. */
const PHONE = '(max-width: 599.98px)';
const ROW_HEIGHT = 48;
const PHONE_ROW_HEIGHT = 76;

/** The model every entry has, or null when they differ or one has none. */
export function sharedModel(entries: readonly FleetEntry[]): ModelRef | null {
  const first = entries[0]?.model;
  if (!first) return null;
  return entries.every((entry) => entry.model?.id === first.id && entry.model.version === first.version) ? first : null;
}

/** What a bulk action goes to: the picked devices, else every device the label filter matches. */
export interface BulkScope {
  target: BulkTarget;
  description: string;
  /** The model the devices share, when known to be one. */
  model: ModelRef | null;
}

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
  private readonly auth = inject(AuthService);
  /** Operators and admins may pick devices and act on them in bulk (the api checks the role again). */
  protected readonly canOperate = computed(() => {
    const user = this.auth.user();
    return user !== null && roleAtLeast(user.role, 'operator');
  });

  /** What "Send command" and "Patch desired state" go to, or null when nothing is picked and no label filter set. */
  protected readonly bulkScope = computed<BulkScope | null>(() => {
    const picked = this.store.selectedEntries();
    if (picked.length > 0) {
      return {
        target: { devices: picked.map((entry) => entry.id) },
        description: picked.length === 1 ? '1 selected device' : `${picked.length} selected devices`,
        model: sharedModel(picked),
      };
    }
    const { labels, type, online, model } = this.store.filter();
    if (!labels) return null;
    // The api matches the labels only: the list shows the same devices when no other filter narrows it.
    const onlyLabels = !type && online === undefined && !model;
    return {
      target: { labels },
      description: `every device labelled ${labels}`,
      model: onlyLabels && !this.store.loading() ? sharedModel(this.store.entries()) : null,
    };
  });

  /** Opens the bulk dialog; once the api made the bulk, its progress page. */
  protected bulk(kind: 'command' | 'desired'): void {
    const scope = this.bulkScope();
    if (!scope) return;
    openBulkActionDialog(this.dialog, { kind, ...scope })
      .afterClosed()
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe((bulk) => {
        if (bulk) void this.router.navigate(['/bulk', bulk.bulkId]);
      });
  }

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
    const { labels, type, online, model } = this.store.filter();
    return !!labels || !!type || online !== undefined || !!model;
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
      model: value('model') || undefined,
    };
    const current = this.store.filter();
    const same = (['labels', 'type', 'online', 'model'] as const).every((key) => current[key] === filter[key]);
    if (same) return;
    this.store.setFilter(filter);
  }

  protected search(event: Event): void {
    this.store.query.set((event.target as HTMLInputElement).value);
  }
}
