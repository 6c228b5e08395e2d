import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import {
  type DeviceStateView,
  type JsonObject,
  applyMergePatch,
  jsonEqual,
  stateDelta,
  statePatchProblem,
  topics,
} from '@iot/protocol';
import { DeviceTransport } from '../device-transport';
import { DomainError } from '../../domain/errors';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { deviceEvents } from '../../domain/events';
import { EventLog } from '../events/event-log.service';
import { PresenceService } from '../events/presence.service';
import { ModelsService } from '../models/models.service';
import { type DeviceStateRecord, DeviceStateRepository } from '../../domain/device-state';

/** Saves tried for one change while other writers keep saving the same device first. */
const SAVE_ATTEMPTS = 5;

/**
 * Desired and reported state. An operator's merge patch bumps the version
 * and the whole desired document goes out retained, so a device that
 * connects later still gets it; a device's merge patch updates what it
 * reports. Changes to one device run one after another in this process;
 * across processes each save is conditional on the revision it read, and a
 * change that lost the race is applied again to the fresh document.
 */
@Injectable()
export class StateService implements OnApplicationBootstrap {
  private readonly logger = new Logger(StateService.name);
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly states: DeviceStateRepository,
    private readonly transport: DeviceTransport,
    private readonly presence: PresenceService,
    private readonly log: EventLog,
    private readonly models: ModelsService,
  ) {}

  /** The embedded broker keeps retained messages in memory: publish every desired document again. */
  async onApplicationBootstrap(): Promise<void> {
    for (const { deviceId, version, desired } of await this.states.desiredStates()) {
      if (!this.presence.has(deviceId)) continue;
      await this.publishDesired(deviceId, version, desired);
    }
  }

  async get(deviceId: string): Promise<DeviceStateView> {
    await this.assertDevice(deviceId);
    const { state } = await this.states.get(deviceId);
    return { ...state, delta: stateDelta(state.desired, state.reported) };
  }

  /**
   * Applies an operator's merge patch to the desired state; `precondition_failed`
   * when `expectedVersion` is not current, `bad_request` for a patch nested too
   * deep or with a `__proto__` key, `too_large` when the document would outgrow
   * STATE_MAX_BYTES.
   */
  async setDesired(deviceId: string, patch: JsonObject, expectedVersion: number | undefined): Promise<{ version: number }> {
    await this.assertDevice(deviceId);
    const problem = statePatchProblem(patch);
    if (problem !== undefined) throw new DomainError('bad_request', `patch: ${problem}`);
    const fits = await this.models.desiredCheck(deviceId);
    return this.serialize(deviceId, async () => {
      const now = Date.now();
      const changed = await this.change<{ unchanged: number }>(deviceId, (state) => {
        if (expectedVersion !== undefined && expectedVersion !== state.version) {
          throw new DomainError(
            'precondition_failed',
            `the desired state is at version ${state.version}, not ${expectedVersion}; reload it and try again`,
          );
        }
        const desired = applyMergePatch(state.desired, patch);
        fits?.(patch, desired);
        // A patch that changes nothing makes no new version (and sends the device nothing).
        if (jsonEqual(desired, state.desired)) return { unchanged: state.version };
        const json = this.sized(desired, 'desired', ' (STATE_MAX_BYTES); nothing was changed');
        return { state: { ...state, desired, version: state.version + 1, desiredAt: now }, json };
      });
      if ('unchanged' in changed) return { version: changed.unchanged };
      const { state, json } = changed;
      this.log.append(deviceEvents.state(deviceId, 'desired', json, state.version, now), now);
      await this.publishDesired(deviceId, state.version, state.desired);
      return { version: state.version };
    });
  }

  /**
   * A device's merge patch on `state/reported`, as parsed from the payload.
   * Throws `bad_request` for a patch nested too deep or with a `__proto__`
   * key, `too_large` when the document would outgrow STATE_MAX_BYTES.
   */
  async applyReported(deviceId: string, patch: JsonObject, receivedAt: number): Promise<void> {
    const problem = statePatchProblem(patch);
    if (problem !== undefined) throw new DomainError('bad_request', problem);
    await this.serialize(deviceId, async () => {
      const { state, json } = await this.change(deviceId, (state) => {
        const reported = applyMergePatch(state.reported, patch);
        const json = this.sized(reported, 'reported', '; the patch was not applied');
        return { state: { ...state, reported, reportedAt: receivedAt }, json };
      });
      this.log.append(deviceEvents.state(deviceId, 'reported', json, state.version, receivedAt), receivedAt);
    });
  }

  /**
   * Reads the state, applies `next` and saves the result if no other writer
   * (another replica) saved the device in between; else reads the fresh state
   * and applies `next` again, so its checks hold for what is stored. After
   * SAVE_ATTEMPTS lost races, `unavailable`: the same change may succeed
   * later (a device's message is not acknowledged, so it comes again).
   */
  private async change<Unchanged extends object = never>(
    deviceId: string,
    next: (state: DeviceStateRecord) => { state: DeviceStateRecord; json: string } | Unchanged,
  ): Promise<{ state: DeviceStateRecord; json: string } | Unchanged> {
    for (let attempt = 1; attempt <= SAVE_ATTEMPTS; attempt++) {
      const { state, revision } = await this.states.get(deviceId);
      const changed = next(state);
      // Nothing to save: `next` said so.
      if (!('json' in changed)) return changed;
      if (await this.states.save(deviceId, changed.state, revision)) return changed;
    }
    throw new DomainError(
      'unavailable',
      `the state of ${deviceId} kept changing under this change (${SAVE_ATTEMPTS} attempts); nothing was changed, try again`,
    );
  }

  /**
   * A document as JSON, serialised once for the size check and the event;
   * `too_large` past STATE_MAX_BYTES (`outcome` ends the message).
   */
  private sized(document: JsonObject, which: 'desired' | 'reported', outcome: string): string {
    const json = JSON.stringify(document);
    const bytes = Buffer.byteLength(json);
    const max = this.config.stateMaxBytes;
    if (bytes > max) {
      throw new DomainError('too_large', `the ${which} state would be ${bytes} bytes, over the limit of ${max}${outcome}`);
    }
    return json;
  }

  private async publishDesired(deviceId: string, version: number, desired: JsonObject): Promise<void> {
    try {
      await this.transport.publish(topics.stateDesired(deviceId), JSON.stringify({ version, state: desired }), {
        qos: 1,
        retain: true,
      });
    } catch (error) {
      this.logger.warn(`publishing the desired state of ${deviceId} failed: ${String(error)}`);
    }
  }

  private async assertDevice(deviceId: string): Promise<void> {
    if (!(await this.presence.known(deviceId))) throw new DomainError('not_found', `no device ${deviceId}`);
  }

  private serialize<T>(deviceId: string, step: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(deviceId) ?? Promise.resolve();
    const next = previous.then(step, step);
    const settled = next.catch(() => undefined);
    this.chains.set(deviceId, settled);
    void settled.then(() => {
      if (this.chains.get(deviceId) === settled) this.chains.delete(deviceId);
    });
    return next;
  }
}
