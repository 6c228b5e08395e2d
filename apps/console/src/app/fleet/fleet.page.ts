import { BreakpointObserver } from '@angular/cdk/layout';
import { CdkFixedSizeVirtualScroll, CdkVirtualForOf, CdkVirtualScrollViewport } from '@angular/cdk/scrolling';
import { ChangeDetectionStrategy, Component, computed, inject } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { MatButton, MatIconButton } from '@angular/material/button';
import { MatFormField, MatLabel, MatSuffix } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { MatProgressBar } from '@angular/material/progress-bar';
import { Router } from '@angular/router';
import { map } from 'rxjs';
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

  /** Opens a device's page (a row was clicked, or Enter pressed on it). */
  protected open(entry: FleetEntry): void {
    void this.router.navigate(['/devices', entry.id]);
  }

  protected search(event: Event): void {
    this.store.query.set((event.target as HTMLInputElement).value);
  }
}
