import type { DeviceStateView, JsonObject } from '@iot/protocol';

/** A device's state as stored: the API's view without the delta, which is computed when read. */
export type DeviceStateRecord = Omit<DeviceStateView, 'delta'>;

/** A state as read, with the revision of its row: 0 when no row was ever saved. */
export interface StoredDeviceState {
  state: DeviceStateRecord;
  revision: number;
}

/**
 * Each device's reported and desired state. Several processes may change
 * the same device: a save is conditional on the revision that was read
 * (optimistic concurrency), so a change is never written over another one
 * it did not see.
 */
export abstract class DeviceStateRepository {
  /** The device's state (empty, version 0, when none was ever saved) and its revision. */
  abstract get(deviceId: string): Promise<StoredDeviceState>;
  /**
   * Writes `state` and bumps the revision, only if the row is still at
   * `revision` (as `get` gave it); false, writing nothing, when another
   * writer saved in between.
   */
  abstract save(deviceId: string, state: DeviceStateRecord, revision: number): Promise<boolean>;
  /** Devices whose desired state was ever set, to republish it retained at boot. */
  abstract desiredStates(): Promise<Array<{ deviceId: string; version: number; desired: JsonObject }>>;
}
