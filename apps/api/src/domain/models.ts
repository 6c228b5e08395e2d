import type { DeviceModel, ModelRef } from '@iot/protocol';

export type { ModelRef };

/** What the catalogue lists of a model: its newest version. */
export interface ModelSummary extends ModelRef {
  title: string | null;
  /** How many versions the catalogue has of it. */
  versions: number;
}

/**
 * The model catalogue and which model each device has. A model version,
 * once stored, never changes, so what a device was checked against stays known.
 */
export abstract class ModelRepository {
  /** Stores `model`; false when its id and version are taken (by whatever document). */
  abstract insert(model: DeviceModel, now: number): Promise<boolean>;
  abstract get(ref: ModelRef): Promise<DeviceModel | undefined>;
  /** Each model's newest version, by id, after `afterId`. */
  abstract list(limit: number, afterId?: string): Promise<ModelSummary[]>;
  /** The versions the catalogue has of a model, newest first. */
  abstract versions(id: string): Promise<number[]>;
  /** Gives a device a model (null: none); false when the device or the model does not exist. */
  abstract assign(deviceId: string, ref: ModelRef | null, now: number): Promise<boolean>;
  /** The model a device has, if any. */
  abstract assigned(deviceId: string): Promise<ModelRef | undefined>;
  /** Every device that has a model, with it (read at boot). */
  abstract assignments(): Promise<Array<{ deviceId: string; model: ModelRef }>>;
}
