import { Injectable } from '@nestjs/common';
import type { AuthUser } from './auth-user';

type Labels = Readonly<Record<string, string>>;
type Selector = ReadonlyMap<string, string>;

/** Whether `labels` hold each key of `selector` with its value. */
export function labelsMatch(labels: Labels, selector: Selector): boolean {
  for (const [key, value] of selector) if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  return true;
}

/**
 * The one place that decides which devices a user may see and command. A
 * user with a scope (a label selector; never an admin) sees only devices
 * whose labels match it; every edge asks here and answers a device outside
 * exactly as an unknown one. The labels of every device are kept in memory
 * (the devices service keeps them current, on replicas through notices), so
 * the stream can ask per event; a device not known here is out of every
 * scope until it is.
 */
@Injectable()
export class DeviceAccess {
  private readonly labels = new Map<string, Labels>();
  /** Devices changed since a reload began reading: what they are now wins over what it read. */
  private touched: Set<string> | undefined;

  /** A reload (`load`) is about to read every device. */
  beginLoad(): void {
    this.touched = new Set();
  }

  /** Replaces what is known (at boot, or after the replicas' channel was lost), but for changes made since `beginLoad`. */
  load(devices: Iterable<{ id: string; labels: Labels }>): void {
    const kept = [...(this.touched ?? [])].map((id) => [id, this.labels.get(id)] as const);
    this.touched = undefined;
    this.labels.clear();
    for (const device of devices) this.labels.set(device.id, device.labels);
    for (const [id, labels] of kept) {
      if (labels === undefined) this.labels.delete(id);
      else this.labels.set(id, labels);
    }
  }

  /** A device was registered or relabelled. */
  set(deviceId: string, labels: Labels): void {
    this.labels.set(deviceId, labels);
    this.touched?.add(deviceId);
  }

  /** A device was deleted. */
  remove(deviceId: string): void {
    this.labels.delete(deviceId);
    this.touched?.add(deviceId);
  }

  /** Whether the user is limited at all. */
  limited(user: Pick<AuthUser, 'scope'>): boolean {
    return user.scope !== null;
  }

  /** Whether the user may see the device (an unknown device is in no scope; without a scope, the caller finds out). */
  sees(user: Pick<AuthUser, 'scope'>, deviceId: string): boolean {
    if (user.scope === null) return true;
    const labels = this.labels.get(deviceId);
    return labels !== undefined && labelsMatch(labels, user.scope);
  }

  /** Whether every device a selector matches is in the user's scope: it asks at least the scope's labels. */
  within(user: Pick<AuthUser, 'scope'>, selector: Selector): boolean {
    if (user.scope === null) return true;
    for (const [key, value] of user.scope) if (selector.get(key) !== value) return false;
    return true;
  }

  /**
   * The label selector a list query of the user's takes: the one asked for
   * with the user's scope ANDed in, or `'none'` when the two ask one label
   * for different values (no device could match both).
   */
  narrow(user: Pick<AuthUser, 'scope'>, selector: Selector | undefined): Selector | undefined | 'none' {
    if (user.scope === null) return selector;
    if (selector === undefined) return user.scope;
    const both = new Map(selector);
    for (const [key, value] of user.scope) {
      if (both.has(key) && both.get(key) !== value) return 'none';
      both.set(key, value);
    }
    return both;
  }
}
