import { ChangeDetectionStrategy, Component, computed, effect, inject, input, output } from '@angular/core';
import { telemetryMisfit, type TelemetrySpec, type TelemetryValue } from '@iot/protocol';
import { DeviceModels } from '../core/models/device-models';
import { MeasurementPipe, RelativeTimePipe, TimestampPipe } from '../ui/format.pipes';
import type { DeviceLiveState } from './device-state';
import type { FleetEntry } from './fleet.store';

interface ShownValue {
  key: string;
  /** The model's title, else the key. */
  title: string;
  spec: TelemetrySpec | undefined;
  value: TelemetryValue;
  ts: number;
  misfit: boolean;
}

/** One device in the fleet list: a table row on wide screens, a three-line card on phones. */
@Component({
  selector: 'iot-device-row',
  imports: [RelativeTimePipe, MeasurementPipe, TimestampPipe],
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
  /** Its open alarms. */
  readonly alarms = input(0);
  /** Whether the row has a checkbox to pick it for a bulk action (operators). */
  readonly selectable = input(false);
  readonly selected = input(false);
  readonly selectedChange = output<boolean>();

  private readonly models = inject(DeviceModels);
  /** The device's model, asked for once the row is shown (rows are virtual: only those on screen). */
  private readonly model = computed(() => this.models.model(this.entry().id));

  protected readonly online = computed(() => this.state()?.online ?? false);
  protected readonly lastSeen = computed(() => this.state()?.lastSeen ?? null);
  protected readonly lastSeenIso = computed(() => {
    const ts = this.lastSeen();
    return ts === null ? null : new Date(ts).toISOString();
  });
  protected readonly values = computed<ShownValue[]>(() => {
    const latest = this.state()?.latest ?? {};
    const specs = this.model()?.telemetry ?? {};
    return Object.keys(latest)
      .sort()
      .map((key) => {
        const spec = Object.prototype.hasOwnProperty.call(specs, key) ? specs[key] : undefined;
        const { value, ts } = latest[key];
        return { key, title: spec?.title ?? key, spec, value, ts, misfit: !!spec && !!telemetryMisfit(spec, value) };
      });
  });

  constructor() {
    effect(() => this.models.request(this.entry().id));
  }
}
