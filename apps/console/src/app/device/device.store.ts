import { DestroyRef, inject, Injectable, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import type { DeviceView } from '@iot/protocol';
import { forkJoin, type Subscription } from 'rxjs';
import { DeviceApi } from '../core/devices/device-api';
import { describeHttpError } from '../core/http-error';
import { StreamService } from '../core/stream/stream.service';
import { applyStatus, type DeviceLiveState, mergeTelemetry } from '../fleet/device-state';

/**
 * One device: its details and latest values over REST, kept live by the
 * stream's `telemetry` and `status` events. Provided by the device page.
 */
@Injectable()
export class DeviceStore {
  private readonly api = inject(DeviceApi);
  private readonly deviceState = signal<DeviceView | null>(null);
  private readonly liveState = signal<DeviceLiveState | null>(null);
  private readonly loadingState = signal(false);
  private readonly errorState = signal<string | null>(null);
  private readonly notFoundState = signal(false);
  private deviceId: string | null = null;
  private load: Subscription | undefined;

  readonly device = this.deviceState.asReadonly();
  readonly live = this.liveState.asReadonly();
  readonly loading = this.loadingState.asReadonly();
  readonly error = this.errorState.asReadonly();
  readonly notFound = this.notFoundState.asReadonly();

  constructor() {
    const stream = inject(StreamService);
    stream.messages.pipe(takeUntilDestroyed()).subscribe((message) => {
      const live = this.liveState();
      if (message.event === 'reset') this.reload();
      if (!live || (message.event !== 'telemetry' && message.event !== 'status')) return;
      if (message.data.deviceId !== this.deviceId) return;
      this.liveState.set(
        message.event === 'telemetry'
          ? mergeTelemetry(live, message.data, Date.now())
          : applyStatus(live, message.data, true),
      );
    });
    inject(DestroyRef).onDestroy(() => this.load?.unsubscribe());
  }

  open(deviceId: string): void {
    if (deviceId !== this.deviceId) {
      this.deviceState.set(null);
      this.liveState.set(null);
    }
    this.deviceId = deviceId;
    this.reload();
  }

  reload(): void {
    const id = this.deviceId;
    if (!id) return;
    this.load?.unsubscribe();
    this.loadingState.set(true);
    this.load = forkJoin({ device: this.api.device(id), latest: this.api.latest(id) }).subscribe({
      next: ({ device, latest }) => {
        this.deviceState.set(device);
        const live = this.liveState();
        // Keep anything the stream already delivered that is newer than the snapshot.
        const merged = { ...latest };
        for (const [key, value] of Object.entries(live?.latest ?? {})) {
          if (!merged[key] || merged[key].ts < value.ts) merged[key] = value;
        }
        this.liveState.set({ online: device.online, lastSeen: device.lastSeen, latest: merged });
        this.errorState.set(null);
        this.notFoundState.set(false);
        this.loadingState.set(false);
      },
      error: (error: unknown) => {
        this.notFoundState.set((error as { status?: number }).status === 404);
        this.errorState.set(describeHttpError(error));
        this.loadingState.set(false);
      },
    });
  }
}
