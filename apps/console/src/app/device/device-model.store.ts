import { computed, DestroyRef, inject, Injectable, signal } from '@angular/core';
import type { CommandSpec, DeviceModel, TelemetryMisfitView, TelemetrySpec, ValueSchema } from '@iot/protocol';
import type { Subscription } from 'rxjs';
import { DeviceApi } from '../core/devices/device-api';
import { DeviceModels } from '../core/models/device-models';

/** One command of the model, for the picker. */
export interface ModelCommand {
  name: string;
  spec: CommandSpec;
}

/**
 * The open device's model, loaded once per device page (`GET /devices/{id}/model`),
 * and the telemetry misfits the api counted. A device without a model, or
 * whose model could not be loaded, is shown as before models existed.
 * Provided by the device page.
 */
@Injectable()
export class DeviceModelStore {
  private readonly api = inject(DeviceApi);
  private readonly cache = inject(DeviceModels);
  private readonly modelState = signal<DeviceModel | null>(null);
  private readonly misfitState = signal<Record<string, TelemetryMisfitView>>({});
  private readonly loadedState = signal(false);
  private deviceId: string | null = null;
  private load: Subscription | undefined;

  readonly model = this.modelState.asReadonly();
  /** By telemetry key: values that did not fit (counted by the api since it started). */
  readonly misfits = this.misfitState.asReadonly();
  /** Whether the answer (model or none) is in: forms wait for it rather than flash the raw editor. */
  readonly loaded = this.loadedState.asReadonly();
  /** In the model's order: its author's, the first the likeliest. */
  readonly commands = computed<ModelCommand[]>(() =>
    Object.entries(this.modelState()?.commands ?? {}).map(([name, spec]) => ({ name, spec })),
  );
  /** The model's desired-state properties; null when it declares none. */
  readonly desired = computed<Record<string, ValueSchema> | null>(() => {
    const desired = this.modelState()?.desired;
    return desired && Object.keys(desired).length > 0 ? desired : null;
  });

  constructor() {
    inject(DestroyRef).onDestroy(() => this.load?.unsubscribe());
  }

  /** The spec of one telemetry key, if the model has it. */
  telemetry(key: string): TelemetrySpec | undefined {
    const specs = this.modelState()?.telemetry;
    return specs && Object.prototype.hasOwnProperty.call(specs, key) ? specs[key] : undefined;
  }

  open(deviceId: string): void {
    if (deviceId === this.deviceId) return;
    this.deviceId = deviceId;
    this.modelState.set(null);
    this.misfitState.set({});
    this.loadedState.set(false);
    this.load?.unsubscribe();
    this.load = this.api.model(deviceId).subscribe({
      next: (view) => {
        this.modelState.set(view.model);
        this.misfitState.set(view.misfits ?? {});
        this.loadedState.set(true);
        this.cache.put(deviceId, view.model);
      },
      error: () => this.loadedState.set(true),
    });
  }
}
