import { Injectable } from '@nestjs/common';
import { deviceEvents } from '../../domain/events';
import { EventLog } from './event-log.service';

/**
 * Which devices exist and which are online, in memory, so that ingest never
 * asks the database. A change of presence becomes a `status` event.
 */
@Injectable()
export class PresenceService {
  private readonly online = new Map<string, boolean>();

  constructor(private readonly log: EventLog) {}

  load(deviceIds: Iterable<string>): void {
    for (const id of deviceIds) this.online.set(id, false);
  }

  has(deviceId: string): boolean {
    return this.online.has(deviceId);
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

  /** Records a device's presence; emits a `status` event only when it changes. */
  set(deviceId: string, online: boolean, ts: number): void {
    const previous = this.online.get(deviceId);
    if (previous === undefined || previous === online) return;
    this.online.set(deviceId, online);
    this.log.append(deviceEvents.status(deviceId, online, ts), ts);
  }
}
