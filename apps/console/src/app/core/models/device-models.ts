import { inject, Injectable, signal } from '@angular/core';
import type { DeviceModel } from '@iot/protocol';
import { DeviceApi } from '../devices/device-api';

/** Devices whose model is remembered; the oldest is forgotten past this (fetched again when shown). */
export const MAX_CACHED_DEVICES = 2_000;
/** Distinct models (id@version) held; a fleet has few, so this is generous. */
export const MAX_CACHED_MODELS = 200;
/** Model requests in flight at once: a screenful of new rows does not fire a burst. */
export const MODEL_FETCH_CONCURRENCY = 4;
/** A device's model is asked for again after this (a device announces a new version when it updates). */
export const MODEL_TTL_MS = 5 * 60_000;
/** Requests waiting beyond this are dropped (their rows ask again when shown). */
const MAX_QUEUED = 500;

interface DeviceEntry {
  /** `id@version`, or null: the device has no model. */
  key: string | null;
  fetchedAt: number;
}

export const modelKey = (model: Pick<DeviceModel, 'id' | 'version'>) => `${model.id}@${model.version}`;

/**
 * Device models for the whole console: which model each device has (from
 * `GET /devices/{id}/model`), the models themselves cached once per
 * id@version. Both maps are bounded (oldest first out), requests are queued
 * and run a few at a time. A failed request counts as "no model" for a while:
 * such a device is shown as one without a model.
 */
@Injectable({ providedIn: 'root' })
export class DeviceModels {
  private readonly api = inject(DeviceApi);
  private readonly revision = signal(0);
  private readonly byDevice = new Map<string, DeviceEntry>();
  private readonly models = new Map<string, DeviceModel>();
  private readonly queue: string[] = [];
  private readonly inFlight = new Set<string>();

  /** The device's model: undefined while unknown, null when it has none. A signal read. */
  model(deviceId: string): DeviceModel | null | undefined {
    this.revision();
    const entry = this.byDevice.get(deviceId);
    if (!entry) return undefined;
    return entry.key === null ? null : this.models.get(entry.key);
  }

  /** Makes sure the device's model is (or will be) known; cheap when it is. */
  request(deviceId: string, now = Date.now()): void {
    const entry = this.byDevice.get(deviceId);
    const known = entry && now - entry.fetchedAt < MODEL_TTL_MS && (entry.key === null || this.models.has(entry.key));
    if (known || this.inFlight.has(deviceId) || this.queue.includes(deviceId)) return;
    if (this.queue.length >= MAX_QUEUED) this.queue.shift();
    this.queue.push(deviceId);
    this.pump();
  }

  /** A model learnt elsewhere (the device page loads its device's own). */
  put(deviceId: string, model: DeviceModel | null, now = Date.now()): void {
    let key: string | null = null;
    if (model) {
      key = modelKey(model);
      this.models.delete(key);
      this.models.set(key, model);
      while (this.models.size > MAX_CACHED_MODELS) this.models.delete(this.models.keys().next().value as string);
    }
    this.byDevice.delete(deviceId);
    this.byDevice.set(deviceId, { key, fetchedAt: now });
    while (this.byDevice.size > MAX_CACHED_DEVICES) this.byDevice.delete(this.byDevice.keys().next().value as string);
    this.revision.update((n) => n + 1);
  }

  private pump(): void {
    while (this.inFlight.size < MODEL_FETCH_CONCURRENCY && this.queue.length > 0) {
      const deviceId = this.queue.shift() as string;
      this.inFlight.add(deviceId);
      this.api
        .model(deviceId)
        .subscribe({
          next: (view) => this.put(deviceId, view.model),
          error: () => this.put(deviceId, null),
        })
        .add(() => {
          this.inFlight.delete(deviceId);
          this.pump();
        });
    }
  }
}
