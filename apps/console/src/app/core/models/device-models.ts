import { inject, Injectable, signal } from '@angular/core';
import type { DeviceModel, ModelRef } from '@iot/protocol';
import type { Observable } from 'rxjs';
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

/** A fetch waiting its turn: a device's model (`GET /devices/{id}/model`), or a model by its ref. */
type Job = { device: string } | { ref: ModelRef };
const jobKey = (job: Job) => ('device' in job ? `d:${job.device}` : `m:${modelKey(job.ref)}`);

/**
 * Device models for the whole console: which model each device has (from
 * the fleet list's model refs, else `GET /devices/{id}/model`), the models
 * themselves cached once per id@version (a ref's model is fetched once).
 * Both maps are bounded (oldest first out), requests are queued and run a
 * few at a time. A failed request counts as "no model" for a while:
 * such a device is shown as one without a model.
 */
@Injectable({ providedIn: 'root' })
export class DeviceModels {
  private readonly api = inject(DeviceApi);
  private readonly revision = signal(0);
  private readonly byDevice = new Map<string, DeviceEntry>();
  private readonly models = new Map<string, DeviceModel>();
  private readonly queue: Job[] = [];
  /** Job keys queued or in flight. */
  private readonly waiting = new Set<string>();
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
    const known =
      entry &&
      now - entry.fetchedAt < MODEL_TTL_MS &&
      (entry.key === null || this.models.has(entry.key) || this.waiting.has(`m:${entry.key}`));
    if (!known) this.enqueue({ device: deviceId });
  }

  /**
   * Which model a device has, as the fleet list says: the model itself is
   * fetched once per id@version, so a page of devices sharing a model costs
   * one request, not one per device.
   */
  assign(deviceId: string, ref: ModelRef | null, now = Date.now()): void {
    // No ref says only that the device had no model when the list was read: it may announce one as it
    // connects (a device publishes its model before it goes online), so a row asks the device when shown.
    if (ref === null) return;
    const key = modelKey(ref);
    this.byDevice.delete(deviceId);
    this.byDevice.set(deviceId, { key, fetchedAt: now });
    while (this.byDevice.size > MAX_CACHED_DEVICES) this.byDevice.delete(this.byDevice.keys().next().value as string);
    if (!this.models.has(key)) this.enqueue({ ref: { id: ref.id, version: ref.version } });
    this.revision.update((n) => n + 1);
  }

  private enqueue(job: Job): void {
    const key = jobKey(job);
    if (this.waiting.has(key)) return;
    if (this.queue.length >= MAX_QUEUED) {
      const dropped = this.queue.shift() as Job;
      this.waiting.delete(jobKey(dropped));
    }
    this.queue.push(job);
    this.waiting.add(key);
    this.pump();
  }

  /** A model learnt elsewhere (the device page loads its device's own). */
  put(deviceId: string, model: DeviceModel | null, now = Date.now()): void {
    const key = model ? modelKey(model) : null;
    if (model) this.keep(model);
    this.byDevice.delete(deviceId);
    this.byDevice.set(deviceId, { key, fetchedAt: now });
    while (this.byDevice.size > MAX_CACHED_DEVICES) this.byDevice.delete(this.byDevice.keys().next().value as string);
    this.revision.update((n) => n + 1);
  }

  private pump(): void {
    while (this.inFlight.size < MODEL_FETCH_CONCURRENCY && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      const key = jobKey(job);
      this.inFlight.add(key);
      const fetched: Observable<unknown> =
        'device' in job ? this.api.model(job.device) : this.api.modelVersion(job.ref.id, job.ref.version);
      fetched
        .subscribe({
          next: (answer) => {
            if ('device' in job) this.put(job.device, (answer as { model: DeviceModel | null }).model);
            else this.keep(answer as DeviceModel);
          },
          // A device then shows as one without a model; a ref is asked for again when a row asks.
          error: () => {
            if ('device' in job) this.put(job.device, null);
          },
        })
        .add(() => {
          this.inFlight.delete(key);
          this.waiting.delete(key);
          this.pump();
        });
    }
  }

  private keep(model: DeviceModel): void {
    const key = modelKey(model);
    this.models.delete(key);
    this.models.set(key, model);
    while (this.models.size > MAX_CACHED_MODELS) this.models.delete(this.models.keys().next().value as string);
    this.revision.update((n) => n + 1);
  }
}
