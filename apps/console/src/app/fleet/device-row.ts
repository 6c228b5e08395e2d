import { ChangeDetectionStrategy, Component, computed, input } from '@angular/core';
import type { TelemetryValue } from '@iot/protocol';
import { RelativeTimePipe, TelemetryValuePipe, TimestampPipe } from '../ui/format.pipes';
import type { DeviceLiveState } from './device-state';
import type { FleetEntry } from './fleet.store';

interface ShownValue {
  key: string;
  value: TelemetryValue;
  ts: number;
}

/** One device in the fleet list: a table row on wide screens, a three-line card on phones. */
@Component({
  selector: 'iot-device-row',
  imports: [RelativeTimePipe, TelemetryValuePipe, TimestampPipe],
  templateUrl: './device-row.html',
  styleUrl: './device-row.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
  host: {
    role: 'row',
    '[class.is-online]': 'online()',
    '[class.is-stale]': 'stale()',
  },
})
export class DeviceRow {
  readonly entry = input.required<FleetEntry>();
  readonly state = input<DeviceLiveState | undefined>();
  /** Epoch ms, for the relative last-seen time. */
  readonly now = input.required<number>();
  /** True when the stream is not live: what is shown may be out of date. */
  readonly stale = input(false);

  protected readonly online = computed(() => this.state()?.online ?? false);
  protected readonly lastSeen = computed(() => this.state()?.lastSeen ?? null);
  protected readonly lastSeenIso = computed(() => {
    const ts = this.lastSeen();
    return ts === null ? null : new Date(ts).toISOString();
  });
  protected readonly values = computed<ShownValue[]>(() => {
    const latest = this.state()?.latest ?? {};
    return Object.keys(latest)
      .sort()
      .map((key) => ({ key, value: latest[key].value, ts: latest[key].ts }));
  });
}
