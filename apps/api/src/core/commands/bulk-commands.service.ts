import { Injectable, Logger } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import { type CommandStatus, type JsonObject, MAX_BULK_DEVICES, type SendCommandRequest, statePatchProblem } from '@iot/protocol';
import { type BulkItem, type BulkKind, type BulkRecord, BulkRepository } from '../../domain/bulk';
import { CommandRepository } from '../../domain/commands';
import { DeviceRepository } from '../../domain/devices';
import { DomainError } from '../../domain/errors';
import { StateService } from '../state/state.service';
import { CommandsService } from './commands.service';

/** Devices of one bulk served at once, at most (each is a write and a publish). */
const BULK_CONCURRENCY = 8;

/**
 * What a bulk command goes to: a list of device ids (those `sees` refuses are
 * refused as unknown: outside the sender's scope), or a label selector (with
 * its text, for the record).
 */
export type BulkTarget =
  | { devices: readonly string[]; sees?: (deviceId: string) => boolean }
  | { labels: ReadonlyMap<string, string>; selector: string };

/** A bulk command and where each of its commands stands. */
export interface BulkState {
  bulk: BulkRecord;
  statuses: Map<string, CommandStatus>;
}

/** A bulk's name for a desired-state patch: its top-level properties, cut short. */
function patchName(patch: JsonObject): string {
  const keys = Object.keys(patch).join(',');
  return keys.length > 200 ? `${keys.slice(0, 199)}…` : keys;
}

/**
 * One command, or one desired-state merge patch, to many devices: each
 * device gets its own, through the same path as a single one (checked by
 * its model, stored, sent or held), so each has its own lifecycle, history
 * and events. A device it is refused for is kept with the reason.
 */
@Injectable()
export class BulkCommandsService {
  private readonly logger = new Logger(BulkCommandsService.name);

  constructor(
    private readonly commands: CommandsService,
    private readonly state: StateService,
    private readonly commandRecords: CommandRepository,
    private readonly devices: DeviceRepository,
    private readonly bulks: BulkRepository,
  ) {}

  send(target: BulkTarget, request: SendCommandRequest, by: string): Promise<BulkState> {
    return this.run('command', request.name, target, by, async (deviceId) => {
      const command = await this.commands.send({ ...request, deviceId }, by);
      return { deviceId, commandId: command.id, error: null };
    });
  }

  /** The same merge patch to each device's desired state, as `PATCH /devices/{id}/state/desired` would apply it. */
  async patchDesired(target: BulkTarget, patch: JsonObject, by: string): Promise<BulkState> {
    // A patch no device could take is refused once, not once per device.
    const problem = statePatchProblem(patch);
    if (problem !== undefined) throw new DomainError('bad_request', `desired: ${problem}`);
    return this.run('desired', patchName(patch), target, by, async (deviceId) => {
      const { version } = await this.state.setDesired(deviceId, patch, undefined);
      return { deviceId, commandId: null, version, error: null };
    });
  }

  private async run(
    kind: BulkKind,
    name: string,
    target: BulkTarget,
    by: string,
    each: (deviceId: string) => Promise<BulkItem>,
  ): Promise<BulkState> {
    const deviceIds = 'devices' in target ? [...new Set(target.devices)] : await this.matching(target.labels);
    if (deviceIds.length === 0) throw new DomainError('bad_request', 'labels: no device matches the selector');
    const items: BulkItem[] = new Array<BulkItem>(deviceIds.length);
    const sees = 'sees' in target ? target.sees : undefined;
    const scoped = async (deviceId: string): Promise<BulkItem> => {
      if (sees && !sees(deviceId)) throw new DomainError('not_found', `no device ${deviceId}`);
      return each(deviceId);
    };
    let next = 0;
    const worker = async () => {
      while (next < deviceIds.length) {
        const at = next++;
        items[at] = await this.one(kind, deviceIds[at], scoped);
      }
    };
    await Promise.all(Array.from({ length: Math.min(BULK_CONCURRENCY, deviceIds.length) }, worker));
    const bulk: BulkRecord = {
      id: uuidv7(),
      kind,
      name,
      createdBy: by,
      createdAt: Date.now(),
      target: 'devices' in target ? 'devices' : `labels ${target.selector}`,
      items,
    };
    await this.bulks.insert(bulk);
    return this.stateOf(bulk);
  }

  async get(id: string): Promise<BulkState> {
    const bulk = await this.bulks.get(id);
    if (!bulk) throw new DomainError('not_found', `no bulk ${id}`);
    return this.stateOf(bulk);
  }

  private async one(kind: BulkKind, deviceId: string, each: (deviceId: string) => Promise<BulkItem>): Promise<BulkItem> {
    try {
      return await each(deviceId);
    } catch (error) {
      const refused = { deviceId, commandId: null, ...(kind === 'desired' && { version: null }) };
      if (error instanceof DomainError) return { ...refused, error: error.message };
      this.logger.error(`bulk ${kind} to ${deviceId}: ${String(error)}`);
      return { ...refused, error: 'internal error' };
    }
  }

  /** The ids of the devices whose labels match, at most MAX_BULK_DEVICES (more: `bad_request`). */
  private async matching(labels: ReadonlyMap<string, string>): Promise<string[]> {
    const ids: string[] = [];
    for (;;) {
      const page = await this.devices.list({ labels, afterId: ids.at(-1), limit: 500 });
      ids.push(...page.map((device) => device.id));
      if (ids.length > MAX_BULK_DEVICES) {
        throw new DomainError('bad_request', `labels: the selector matches more than ${MAX_BULK_DEVICES} devices`);
      }
      if (page.length < 500) return ids;
    }
  }

  private async stateOf(bulk: BulkRecord): Promise<BulkState> {
    const ids = bulk.items.flatMap((item) => (item.commandId === null ? [] : [item.commandId]));
    return { bulk, statuses: await this.commandRecords.statuses(ids) };
  }
}
