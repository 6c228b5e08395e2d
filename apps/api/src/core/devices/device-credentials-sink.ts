/** What bringing the broker's devices in line with the api's did (see `DeviceCredentialsSink.reconcile`). */
export interface BrokerReconciliation {
  /** Devices the broker did not know: created with their ACLs, disabled until their secret is rotated. */
  created: string[];
  /** Broker clients of devices the api does not know, deleted. */
  deleted: string[];
  /** Devices whose own role was missing and has been restored. */
  repaired: string[];
}

/**
 * Where device credentials live besides the api's database: an external
 * broker that authenticates devices itself (Mosquitto's dynamic security).
 * The MQTT edge binds it. Each call resolves once the broker has taken the
 * change and rejects if it refused it or did not answer in time.
 */
export abstract class DeviceCredentialsSink {
  /** Whether the broker keeps credentials at all (false: the api checks them itself). */
  abstract readonly managed: boolean;
  /** A new device may log in with `secret` and touch its own topics only. */
  abstract registered(deviceId: string, secret: string): Promise<void>;
  /** The device's secret is now `secret`; its live session is dropped. */
  abstract rotated(deviceId: string, secret: string): Promise<void>;
  /** The device may no longer log in; its live session is dropped. */
  abstract removed(deviceId: string): Promise<void>;
  /** Makes the broker's devices those of `deviceIds` (see BrokerReconciliation). */
  abstract reconcile(deviceIds: readonly string[]): Promise<BrokerReconciliation>;
}

/** The embedded broker (or an external one that asks the api) reads the api's database: nothing to keep in sync. */
export class NoCredentialsSink extends DeviceCredentialsSink {
  readonly managed = false;
  registered(): Promise<void> {
    return Promise.resolve();
  }
  rotated(): Promise<void> {
    return Promise.resolve();
  }
  removed(): Promise<void> {
    return Promise.resolve();
  }
  reconcile(): Promise<BrokerReconciliation> {
    return Promise.resolve({ created: [], deleted: [], repaired: [] });
  }
}
