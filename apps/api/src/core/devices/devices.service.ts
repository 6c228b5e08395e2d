import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import type {
  CreateDeviceRequest,
  CreateDeviceResponse,
  DeviceCredentials,
  DeviceListResponse,
  DeviceView,
  LatestValues,
  ListDevicesQuery,
  UpdateDeviceRequest,
} from '@iot/protocol';
import { AlarmRepository } from '../../domain/alarms';
import { ClusterChannel, type ClusterNotice } from '../../domain/cluster';
import { DomainError } from '../../domain/errors';
import { DeviceAuthService } from './device-auth.service';
import { type BrokerReconciliation, DeviceCredentialsSink } from './device-credentials-sink';
import { DeviceTransport } from '../device-transport';
import { EventBus } from '../events/event-bus';
import { PresenceService } from '../events/presence.service';
import { type DeviceRecord, DeviceRepository } from '../../domain/devices';
import { TelemetryRepository } from '../../domain/telemetry';
import { ModelsService } from '../models/models.service';
import { DeviceAccess } from '../auth/device-access';

/** Devices read per query when the labels of all are loaded. */
const LABELS_PAGE = 1000;

function view(device: DeviceRecord): DeviceView {
  return {
    id: device.id,
    name: device.name,
    type: device.type,
    labels: device.labels,
    online: device.online,
    lastSeen: device.lastSeen,
    createdAt: device.createdAt,
  };
}

/** 160 random bits, URL-safe: a secret nobody types, so never a dictionary word. */
function newSecret(): string {
  return randomBytes(20).toString('base64url');
}

function newDeviceId(): string {
  return `dev-${randomBytes(6).toString('hex')}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function encodeCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

function decodeCursor(cursor: string): string {
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

/** The device registry: records, credentials, and what revoking them does to live sessions. */
@Injectable()
export class DevicesService {
  private readonly logger = new Logger(DevicesService.name);

  constructor(
    private readonly devices: DeviceRepository,
    private readonly telemetry: TelemetryRepository,
    private readonly auth: DeviceAuthService,
    private readonly transport: DeviceTransport,
    private readonly presence: PresenceService,
    private readonly broker: DeviceCredentialsSink,
    private readonly cluster: ClusterChannel,
    private readonly models: ModelsService,
    private readonly access: DeviceAccess,
    private readonly bus?: EventBus,
    private readonly alarms?: AlarmRepository,
  ) {}

  /**
   * At boot, before the broker accepts anyone. With the embedded broker
   * nobody is connected, so presence left by a crash is forgotten; with
   * replicas on an external broker, devices are still connected (to the
   * broker, through the other replicas), so presence is taken as stored.
   */
  async boot(): Promise<void> {
    if (this.cluster.shared && this.transport.kind === 'external') {
      await this.reloadDirectory();
      return;
    }
    await this.devices.markAllOffline();
    this.presence.load(await this.devices.allIds());
    await this.loadLabels();
  }

  /** Reads the device directory and presence again (with replicas, after notices may have been missed). */
  async reloadDirectory(): Promise<void> {
    const [ids, online] = await Promise.all([this.devices.allIds(), this.devices.onlineIds()]);
    this.presence.load(ids, online);
    await this.loadLabels();
  }

  /** Every device's labels into the access index (scoped users see devices by them). */
  private async loadLabels(): Promise<void> {
    const all: Array<{ id: string; labels: Record<string, string> }> = [];
    this.access.beginLoad();
    for (;;) {
      const page = await this.devices.list({ afterId: all.at(-1)?.id, limit: LABELS_PAGE });
      for (const device of page) all.push({ id: device.id, labels: device.labels });
      if (page.length < LABELS_PAGE) break;
    }
    this.access.load(all);
  }

  /** Another replica registered or relabelled a device: its labels are read as stored. */
  async labelsChangedElsewhere(deviceId: string): Promise<void> {
    const device = await this.devices.get(deviceId);
    if (device) this.access.set(deviceId, device.labels);
    else this.access.remove(deviceId);
  }

  /** Another replica registered, deleted or rotated a device: what this one keeps of it follows. */
  changedElsewhere(notice: Extract<ClusterNotice, { deviceId: string }>): void {
    const id = notice.deviceId;
    switch (notice.kind) {
      case 'device.added':
        this.presence.add(id);
        break;
      case 'device.removed':
        this.access.remove(id);
        this.auth.forget(id);
        this.presence.remove(id);
        this.transport.disconnect(id);
        break;
      case 'device.rotated':
        this.auth.forget(id);
        this.transport.disconnect(id);
        break;
      case 'device.model':
      case 'device.changed':
        // The models service's, the alarm engine's and the labels' (labelsChangedElsewhere) to follow.
        break;
    }
  }

  async create(request: CreateDeviceRequest): Promise<CreateDeviceResponse> {
    const id = request.id ?? newDeviceId();
    const secret = newSecret();
    const now = Date.now();
    const device: DeviceRecord = {
      id,
      name: request.name,
      type: request.type ?? null,
      labels: request.labels ?? {},
      online: false,
      lastSeen: null,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.devices.create(device, this.auth.hashSecret(secret)))) {
      throw new DomainError('conflict', `device ${id} exists`);
    }
    try {
      await this.broker.registered(id, secret);
    } catch (error) {
      // A device the broker does not know could never log in: it is not registered at all. What the
      // broker may have taken after all (an answer that came too late) is cleaned up, at best effort.
      await this.devices.delete(id);
      void this.broker.removed(id).catch(() => undefined);
      throw new DomainError('unavailable', `the MQTT broker did not take device ${id}: ${messageOf(error)}`);
    }
    this.presence.add(id);
    this.access.set(id, device.labels);
    await this.tell({ kind: 'device.added', deviceId: id });
    return { device: view(device), credentials: { username: id, password: secret } };
  }

  async list(query: ListDevicesQuery): Promise<DeviceListResponse> {
    const devices = await this.devices.list({
      q: query.q,
      type: query.type,
      online: query.online,
      labels: query.labels,
      model: query.model,
      afterId: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
      limit: query.limit + 1,
    });
    const page = devices.slice(0, query.limit);
    const ids = page.map((d) => d.id);
    const [latest, alarms] = await Promise.all([
      this.telemetry.latest(ids),
      this.alarms ? this.alarms.openCounts(ids) : new Map<string, number>(),
    ]);
    return {
      items: page.map((d) => ({
        id: d.id,
        name: d.name,
        type: d.type,
        labels: d.labels,
        online: d.online,
        lastSeen: d.lastSeen,
        model: d.model,
        latest: latest.get(d.id) ?? {},
        alarms: alarms.get(d.id) ?? 0,
      })),
      nextCursor: devices.length > query.limit ? encodeCursor(page[page.length - 1].id) : null,
    };
  }

  async get(id: string): Promise<DeviceView> {
    const device = await this.devices.get(id);
    if (!device) throw new DomainError('not_found', `no device ${id}`);
    return view(device);
  }

  async exists(id: string): Promise<boolean> {
    return (await this.devices.get(id)) !== undefined;
  }

  /** The latest value of each of the device's keys. */
  async latest(id: string): Promise<LatestValues> {
    return (await this.telemetry.latest([id])).get(id) ?? {};
  }

  async update(id: string, patch: UpdateDeviceRequest): Promise<DeviceView> {
    const device = await this.devices.update(id, patch, Date.now());
    if (!device) throw new DomainError('not_found', `no device ${id}`);
    if (patch.labels !== undefined) this.access.set(id, device.labels);
    await this.tell({ kind: 'device.changed', deviceId: id });
    return view(device);
  }

  /** Deletes the device and its history, revokes its secret, and drops its session. */
  async remove(id: string): Promise<void> {
    if (!(await this.devices.delete(id))) throw new DomainError('not_found', `no device ${id}`);
    this.access.remove(id);
    this.auth.forget(id);
    this.presence.remove(id);
    this.models.forget(id);
    this.transport.disconnect(id);
    await this.tell({ kind: 'device.removed', deviceId: id });
    // The device is gone from the api either way; a broker that missed it is put right by a re-sync.
    await this.broker
      .removed(id)
      .catch((error: unknown) =>
        this.logger.error(`device ${id} deleted, but the MQTT broker still knows it: ${messageOf(error)}`),
      );
  }

  /** Issues a new secret; the old one fails from now on and a live session is dropped. */
  async rotateCredentials(id: string): Promise<DeviceCredentials> {
    const secret = newSecret();
    if (!(await this.devices.setSecretHash(id, this.auth.hashSecret(secret), Date.now()))) {
      throw new DomainError('not_found', `no device ${id}`);
    }
    this.auth.forget(id);
    this.transport.disconnect(id);
    await this.tell({ kind: 'device.rotated', deviceId: id });
    try {
      await this.broker.rotated(id, secret);
    } catch (error) {
      // The old secret no longer counts here; the broker may still take it until a rotation gets through.
      throw new DomainError('unavailable', `the MQTT broker did not take the new secret of ${id}: ${messageOf(error)}`);
    }
    return { username: id, password: secret };
  }

  /**
   * Tells the other replicas, if any. The change is stored either way, and
   * each replica's safety net holds without the notice: an unknown device is
   * looked up (`known`), a deleted one's events are dropped by storage.
   */
  private async tell(notice: Extract<ClusterNotice, { deviceId: string }>): Promise<void> {
    if (notice.kind !== 'device.rotated') this.bus?.emit('device.changed', notice.deviceId);
    if (!this.cluster.shared) return;
    await this.cluster
      .announce(notice)
      .catch((error: unknown) => this.logger.error(`telling the other replicas of ${notice.kind} ${notice.deviceId} failed: ${messageOf(error)}`));
  }

  /**
   * Brings the broker's devices in line with the api's. The api keeps only
   * hashes of secrets, so devices the broker lacked are created disabled;
   * with `rotateMissing` each of them gets a new secret at once (enabling
   * it), and the new credentials are answered once, as on registration.
   */
  async syncBroker(rotateMissing: boolean): Promise<BrokerReconciliation & { credentials: DeviceCredentials[] }> {
    if (!this.broker.managed) {
      throw new DomainError('conflict', 'device credentials are not kept in the MQTT broker (MQTT_DYNSEC is off)');
    }
    const result = await this.broker.reconcile(await this.devices.allIds());
    const credentials: DeviceCredentials[] = [];
    if (rotateMissing) for (const id of result.created) credentials.push(await this.rotateCredentials(id));
    return { ...result, credentials };
  }
}
