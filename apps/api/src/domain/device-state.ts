import type { DeviceStateView, JsonObject } from '@iot/protocol';

/** A device's state as stored: the API's view without the delta, which is computed when read. */
export type DeviceStateRecord = Omit<DeviceStateView, 'delta'>;

/** Each device's reported and desired state. */
export abstract class DeviceStateRepository {
  /** The device's state; empty (version 0) when none was ever saved. */
  abstract get(deviceId: string): Promise<DeviceStateRecord>;
  abstract save(deviceId: string, state: DeviceStateRecord): Promise<void>;
  /** Devices whose desired state was ever set, to republish it retained at boot. */
  abstract desiredStates(): Promise<Array<{ deviceId: string; version: number; desired: JsonObject }>>;
}
