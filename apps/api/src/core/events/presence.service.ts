import { Injectable } from '@nestjs/common';
import type { StatusEvent } from '@iot/protocol';
import { ClusterChannel } from '../../domain/cluster';
import { DeviceRepository } from '../../domain/devices';
import { deviceEvents, type StoredEvent } from '../../domain/events';
import { EventBus } from './event-bus';
import { EventLog } from './event-log.service';

/**
 * Which devices exist and which are online, in memory, so that ingest never
 * asks the database. A change of presence becomes a `status` event. With
 * replicas, a device's status messages reach whichever replica the broker
 * picks, so each replica also takes the others' `status` events from the log.
 */
@Injectable()
export class PresenceService {
  private readonly online = new Map<string, boolean>();

  constructor(
    private readonly log: EventLog,
    bus: EventBus,
    private readonly cluster: ClusterChannel,
    private readonly devices: DeviceRepository,
  ) {
    if (cluster.shared) bus.on('committed', (events) => this.follow(events));
  }

  /** The directory: every device, and those of `onlineIds` online. */
  load(deviceIds: Iterable<string>, onlineIds: Iterable<string> = []): void {
    this.online.clear();
    for (const id of deviceIds) this.online.set(id, false);
    for (const id of onlineIds) if (this.online.has(id)) this.online.set(id, true);
  }

  has(deviceId: string): boolean {
    return this.online.has(deviceId);
  }

  /**
   * Whether the device exists. With replicas, one registered through another
   * replica a moment ago may not be in this one's directory yet: the
   * database decides, and the directory takes it.
   */
  async known(deviceId: string): Promise<boolean> {
    if (this.online.has(deviceId)) return true;
    if (!this.cluster.shared || !(await this.devices.get(deviceId))) return false;
    this.add(deviceId);
    return true;
  }

  isOnline(deviceId: string): boolean {
    return this.online.get(deviceId) === true;
  }

  add(deviceId: string): void {
    if (!this.online.has(deviceId)) this.online.set(deviceId, false);
  }

  remove(deviceId: string): void {
    this.online.delete(deviceId);
  }

  /** Records a device's presence as the broker sees it; emits a `status` event only when it changes. */
  set(deviceId: string, online: boolean, ts: number): void {
    this.record(deviceId, online, ts, false);
  }

  /**
   * A status the device itself sent (`devices/{id}/status` on an external
   * broker). Alone, stored only when it changes; with replicas, every one is
   * stored: another replica may have stored a change this one has not read
   * yet.
   */
  report(deviceId: string, online: boolean, ts: number): void {
    this.record(deviceId, online, ts, this.cluster.shared);
  }

  private record(deviceId: string, online: boolean, ts: number, always: boolean): void {
    const previous = this.online.get(deviceId);
    if (previous === undefined || (previous === online && !always)) return;
    this.online.set(deviceId, online);
    this.log.append(deviceEvents.status(deviceId, online, ts), ts);
  }

  private follow(events: StoredEvent[]): void {
    for (const event of events) {
      if (event.type !== 'status' || !this.online.has(event.deviceId)) continue;
      this.online.set(event.deviceId, (JSON.parse(event.data) as StatusEvent).online === true);
    }
  }
}
