import type { TelemetryValues } from '@iot/protocol';

/**
 * The distinct telemetry keys of each device, in memory: the keys of the
 * latest values, loaded when the store opens and kept up to date by ingest,
 * so that the per-device bound (TELEMETRY_MAX_KEYS_PER_DEVICE) is checked
 * without asking the database. A message of known keys costs one set lookup
 * per key and allocates nothing.
 *
 * Memory: a key string is shared by every device that has it; 10,000
 * devices of 20 keys took 8 MB of heap, device ids included.
 */
export class TelemetryKeys {
  private readonly byDevice = new Map<string, Set<string>>();

  /** Loads stored (device, key) pairs; equal key strings are kept once. */
  load(rows: Iterable<{ deviceId: string; key: string }>): void {
    const pool = new Map<string, string>();
    for (const { deviceId, key } of rows) {
      let shared = pool.get(key);
      if (shared === undefined) pool.set(key, (shared = key));
      let keys = this.byDevice.get(deviceId);
      if (keys === undefined) this.byDevice.set(deviceId, (keys = new Set()));
      keys.add(shared);
    }
  }

  /** How many distinct keys the device has. */
  count(deviceId: string): number {
    return this.byDevice.get(deviceId)?.size ?? 0;
  }

  /**
   * Takes in the keys of a message's entries, all or none: if they would take
   * the device past `max` distinct keys, nothing is added and the number of
   * keys it has is returned (the message is to be refused); else undefined.
   */
  admit(deviceId: string, entries: ReadonlyArray<{ values: TelemetryValues }>, max: number): number | undefined {
    const known = this.byDevice.get(deviceId);
    const have = known === undefined ? 0 : known.size;
    let fresh: Set<string> | undefined;
    for (let i = 0; i < entries.length; i++) {
      const values = entries[i].values;
      for (const key in values) {
        if (known?.has(key) === true || fresh?.has(key) === true) continue;
        (fresh ??= new Set()).add(key);
        // Stop early: a message of 10,000 new keys is refused without listing them all.
        if (have + fresh.size > max) return have;
      }
    }
    if (fresh === undefined) return undefined;
    if (known === undefined) this.byDevice.set(deviceId, fresh);
    else for (const key of fresh) known.add(key);
    return undefined;
  }

  /** Forgets a deleted device's keys (a device made again with its id starts with none). */
  forget(deviceId: string): void {
    this.byDevice.delete(deviceId);
  }
}
