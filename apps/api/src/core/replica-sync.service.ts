import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ClusterChannel, type ClusterNotice } from '../domain/cluster';
import { AuthService } from './auth/auth.service';
import { DevicesService } from './devices/devices.service';
import { AlarmEngine } from './alarms/alarm-engine.service';
import { EventBus } from './events/event-bus';
import { LogFeed } from './events/log-feed';
import { ModelsService } from './models/models.service';

/**
 * With replicas (a shared PostgreSQL): listens to the others. A grown log
 * is read by the LogFeed; a notice changes what this replica keeps in
 * memory; after the channel was lost, everything a missed notice could have
 * changed is read again.
 */
@Injectable()
export class ReplicaSync implements OnApplicationBootstrap {
  private readonly logger = new Logger(ReplicaSync.name);

  constructor(
    private readonly cluster: ClusterChannel,
    private readonly feed: LogFeed,
    private readonly auth: AuthService,
    private readonly devices: DevicesService,
    private readonly models: ModelsService,
    private readonly bus: EventBus,
    private readonly alarms: AlarmEngine,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.cluster.shared) return;
    await this.cluster.listen({
      notice: (notice) => this.heard(notice),
      appended: (batch) => this.feed.appended(batch),
      resync: () => void this.resync(),
    });
  }

  private heard(notice: ClusterNotice): void {
    switch (notice.kind) {
      case 'sessions.ended':
        this.auth.endedElsewhere(notice.sessionIds);
        break;
      case 'user.changed':
        this.auth.changedElsewhere(notice.username).catch((error: unknown) => this.failed('a user', error));
        break;
      case 'device.added':
      case 'device.removed':
      case 'device.rotated':
        this.devices.changedElsewhere(notice);
        this.models.forget(notice.deviceId);
        if (notice.kind === 'device.added') this.relabelled(notice.deviceId);
        if (notice.kind !== 'device.rotated') this.bus.emit('device.changed', notice.deviceId);
        break;
      case 'device.model':
        this.models.forget(notice.deviceId);
        this.bus.emit('device.changed', notice.deviceId);
        break;
      case 'device.changed':
        this.relabelled(notice.deviceId);
        this.bus.emit('device.changed', notice.deviceId);
        break;
      case 'alarm.rules':
        void this.alarms.rulesChanged();
        break;
    }
  }

  private relabelled(deviceId: string): void {
    this.devices.labelsChangedElsewhere(deviceId).catch((error: unknown) => this.failed("a device's labels", error));
  }

  private async resync(): Promise<void> {
    this.logger.log("the replicas' channel is back: reading users, sessions and devices again");
    this.feed.catchUp();
    await Promise.all([
      this.auth.reload().catch((error: unknown) => this.failed('users and sessions', error)),
      this.devices.reloadDirectory().catch((error: unknown) => this.failed('the device directory', error)),
      this.models.reload().catch((error: unknown) => this.failed("the devices' models", error)),
      this.alarms.reload().catch((error: unknown) => this.failed('alarm rules and open alarms', error)),
    ]);
  }

  private failed(what: string, error: unknown): void {
    this.logger.error(`reading ${what} again failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
