import { ChangeDetectionStrategy, Component, computed, effect, inject, input, untracked } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatProgressBar } from '@angular/material/progress-bar';
import { RouterLink } from '@angular/router';
import { roleAtLeast, telemetryMisfit, type TelemetrySpec, type TelemetryValue } from '@iot/protocol';
import { DeviceAdminCard } from '../admin/device-admin-card';
import { DeviceAlarms } from '../alarms/device-alarms';
import { AuthService } from '../core/auth/auth.service';
import { StreamService } from '../core/stream/stream.service';
import { Clock } from '../core/time/clock';
import { MeasurementPipe, RelativeTimePipe, TimestampPipe } from '../ui/format.pipes';
import { CommandHistory } from './command-history';
import { CommandPanel } from './command-panel';
import { CommandsStore } from './commands.store';
import { DeviceModelStore } from './device-model.store';
import { DeviceStateStore } from './device-state.store';
import { DeviceStore } from './device.store';
import { provideModelForms } from './model-form';
import { StateCard } from './state-card';
import { TelemetryCharts } from './telemetry-charts';
import { TelemetryChartsStore } from './telemetry-charts.store';

/** A value older than this is shown as stale even while the device is online. */
export const VALUE_STALE_AFTER_MS = 5 * 60_000;

interface Tile {
  key: string;
  /** The model's title, else the key. */
  title: string;
  spec: TelemetrySpec | undefined;
  value: TelemetryValue;
  ts: number;
  stale: boolean;
  /** Why the value does not fit the model, if it does not. */
  misfit: string | undefined;
}

/** One device: header, latest values, charts, commands and state, all live. */
@Component({
  selector: 'iot-device-page',
  imports: [
    RouterLink,
    MatButton,
    MatProgressBar,
    RelativeTimePipe,
    MeasurementPipe,
    TimestampPipe,
    CommandPanel,
    CommandHistory,
    StateCard,
    TelemetryCharts,
    DeviceAdminCard,
    DeviceAlarms,
  ],
  providers: [
    DeviceStore,
    DeviceModelStore,
    CommandsStore,
    DeviceStateStore,
    TelemetryChartsStore,
    provideModelForms(),
  ],
  templateUrl: './device.page.html',
  styleUrl: './device.page.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class DevicePage {
  /** The `:id` route parameter. */
  readonly id = input.required<string>();

  protected readonly store = inject(DeviceStore);
  protected readonly clock = inject(Clock);
  private readonly stream = inject(StreamService);
  private readonly auth = inject(AuthService);
  private readonly commands = inject(CommandsStore);
  private readonly state = inject(DeviceStateStore);
  private readonly charts = inject(TelemetryChartsStore);
  private readonly model = inject(DeviceModelStore);

  protected readonly canControl = computed(() => {
    const user = this.auth.user();
    return user !== null && roleAtLeast(user.role, 'operator');
  });
  protected readonly streamLive = this.stream.live;
  protected readonly modelRef = computed(() => {
    const model = this.model.model();
    return model ? { id: model.id, version: model.version, title: model.title ?? model.id } : null;
  });
  protected readonly online = computed(() => this.store.live()?.online ?? false);
  protected readonly tiles = computed<Tile[]>(() => {
    const live = this.store.live();
    if (!live) return [];
    const now = this.clock.now();
    const deviceStale = !live.online || !this.streamLive();
    this.model.model();
    return Object.keys(live.latest)
      .sort()
      .map((key) => {
        const { value, ts } = live.latest[key];
        const spec = this.model.telemetry(key);
        return {
          key,
          title: spec?.title ?? key,
          spec,
          value,
          ts,
          stale: deviceStale || now - ts > VALUE_STALE_AFTER_MS,
          misfit: spec ? telemetryMisfit(spec, value) : undefined,
        };
      });
  });

  constructor() {
    // Booleans and enums are charted once the model says what they are.
    effect(() => {
      const model = this.model.model();
      untracked(() => this.charts.setModel(model));
    });
    effect(() => {
      const id = this.id();
      untracked(() => {
        this.store.open(id);
        this.model.open(id);
        this.commands.open(id);
        this.state.open(id);
        this.charts.open(id);
      });
    });
  }
}
