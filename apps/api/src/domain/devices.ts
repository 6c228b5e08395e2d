import type { DeviceView, ModelRef, UpdateDeviceRequest } from '@iot/protocol';

/** A device as stored: what the API shows of it, and when it last changed. */
export interface DeviceRecord extends DeviceView {
  updatedAt: number;
}

/** A device as listed: its record and the model it has, if any. */
export interface ListedDevice extends DeviceRecord {
  model: ModelRef | null;
}

export interface DeviceListFilter {
  q?: string;
  type?: string;
  online?: boolean;
  /** Devices whose labels hold each of these keys with its value. */
  labels?: ReadonlyMap<string, string>;
  /** Devices given the model with this id (any version). */
  model?: string;
  /** Return devices with ids after this one (keyset paging by id). */
  afterId?: string;
  limit: number;
}

/** The fields an operator may change (`PATCH /devices/{id}`). */
export type DevicePatch = UpdateDeviceRequest;

/** The device registry: records and the hashes of their secrets. */
export abstract class DeviceRepository {
  /** Returns false when the id is taken. */
  abstract create(device: DeviceRecord, secretHash: string): Promise<boolean>;
  abstract get(id: string): Promise<DeviceRecord | undefined>;
  /** Devices by id, each with its model. */
  abstract list(filter: DeviceListFilter): Promise<ListedDevice[]>;
  abstract update(id: string, patch: DevicePatch, now: number): Promise<DeviceRecord | undefined>;
  /** Deletes the device with everything kept of it (telemetry, commands, state); false when there was none. */
  abstract delete(id: string): Promise<boolean>;
  abstract getSecretHash(id: string): Promise<string | undefined>;
  abstract setSecretHash(id: string, secretHash: string, now: number): Promise<boolean>;
  /** Ids of every device, for the in-memory directory. */
  abstract allIds(): Promise<string[]>;
  /** Ids of the devices stored as online. */
  abstract onlineIds(): Promise<string[]>;
  /** Marks every device offline (at boot, before the broker accepts anyone). */
  abstract markAllOffline(): Promise<void>;
}
