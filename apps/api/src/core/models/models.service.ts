import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import {
  type DeviceModel,
  type JsonObject,
  type TelemetryMisfitView,
  type TelemetryValues,
  type ValueSchema,
  isJsonObject,
  jsonEqual,
  parseDeviceModel,
  telemetryMisfit,
} from '@iot/protocol';
import { MetricsService } from '../../platform/metrics/metrics.service';
import { ClusterChannel } from '../../domain/cluster';
import { DomainError } from '../../domain/errors';
import { type ModelRef, ModelRepository } from '../../domain/models';
import { EventBus } from '../events/event-bus';
import { PresenceService } from '../events/presence.service';

/** Compiled parameter and state schemas kept, at most (a model version never changes, so they never go stale). */
export const MAX_VALIDATORS = 2000;
/** Devices whose model is kept in memory, at most (the rest are read again when needed). */
export const MAX_CACHED_DEVICES = 100_000;
/** Model versions kept in memory, at most. */
export const MAX_CACHED_MODELS = 1000;
/** Reads of device models for the telemetry check in flight, at most. */
const MAX_WARMING = 100;

/** The outcome of putting a model into the catalogue. */
export type ModelPut = 'created' | 'unchanged' | 'conflict';

/** What a command may be sent with, by its device's model. */
export interface CommandAllowance {
  /** The model's timeout for the command, when the sender gives none. */
  timeoutMs?: number;
}

function refOf(model: DeviceModel): ModelRef {
  return { id: model.id, version: model.version };
}

/** `params.value: must be <= 30`, from ajv's first error. */
function describe(where: string, errors: ErrorObject[] | null | undefined): string {
  const error = errors?.[0];
  if (!error) return `${where}: does not fit the model`;
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra =
    error.keyword === 'additionalProperties'
      ? ` (${String((error.params as { additionalProperty?: string }).additionalProperty)})`
      : '';
  return `${[where, ...path].join('.')}: ${error.message ?? 'does not fit the model'}${extra}`;
}

/**
 * Device models: the catalogue, which model each device has, and the checks
 * a model makes of the commands and desired state sent to its devices. A
 * device without a model is not checked at all.
 */
@Injectable()
export class ModelsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ModelsService.name);
  /** strict: a schema keyword ajv does not know is an error, not silently ignored; `unit` is an annotation. */
  private readonly ajv = new Ajv({ strict: true, allErrors: false }).addKeyword({
    keyword: 'unit',
    schemaType: 'string',
  });
  private readonly validators = new Map<string, ValidateFunction>();
  /** Catalogue entries read so far (immutable once stored). */
  private readonly catalogue = new Map<string, DeviceModel>();
  /** Each device's model as last read (null: none). */
  private readonly assigned = new Map<string, ModelRef | null>();
  /** Devices whose model is being read for the telemetry check (it checks only what is in memory). */
  private readonly warming = new Set<string>();
  /** Telemetry that did not fit, by device and key, since the process started. */
  private readonly misfits = new Map<string, Map<string, TelemetryMisfitView>>();

  constructor(
    private readonly models: ModelRepository,
    private readonly cluster: ClusterChannel,
    private readonly presence: PresenceService,
    private readonly metrics: MetricsService,
    private readonly bus?: EventBus,
  ) {}

  /** Every device's model in memory before devices connect, so telemetry is checked from the first message. */
  async onApplicationBootstrap(): Promise<void> {
    await this.reload();
  }

  /** Reads every device's model again (at start, and with replicas after notices may have been missed). */
  async reload(): Promise<void> {
    const assignments = await this.models.assignments();
    this.assigned.clear();
    for (const { deviceId, model } of assignments.slice(0, MAX_CACHED_DEVICES)) {
      this.remember(deviceId, model);
      await this.get(model);
    }
  }

  /**
   * The keys of one telemetry entry whose values do not fit the device's
   * model (undefined when all fit, or it has no model); each is counted.
   * Synchronous, on the ingest path: a model not in memory yet is read in
   * the background and checks the messages after it.
   */
  telemetryMisfits(deviceId: string, values: TelemetryValues, ts: number): string[] | undefined {
    const ref = this.assigned.get(deviceId);
    if (ref === undefined) {
      this.warm(deviceId);
      return undefined;
    }
    const spec = ref && this.catalogue.get(`${ref.id}@${ref.version}`)?.telemetry;
    if (!spec) {
      if (ref) this.warm(deviceId);
      return undefined;
    }
    let found: string[] | undefined;
    for (const key of Object.keys(values)) {
      if (!Object.prototype.hasOwnProperty.call(spec, key)) continue;
      const value = values[key];
      const problem = telemetryMisfit(spec[key], value);
      if (problem === undefined) continue;
      (found ??= []).push(key);
      let keys = this.misfits.get(deviceId);
      if (!keys) {
        if (this.misfits.size >= MAX_CACHED_DEVICES) this.misfits.delete(this.misfits.keys().next().value as string);
        this.misfits.set(deviceId, (keys = new Map()));
      }
      keys.set(key, { count: (keys.get(key)?.count ?? 0) + 1, ts, value, problem });
      this.metrics.telemetryMisfits.inc();
    }
    return found;
  }

  /** A device's telemetry misfits, by key. */
  misfitsOf(deviceId: string): Record<string, TelemetryMisfitView> {
    return Object.fromEntries(this.misfits.get(deviceId) ?? []);
  }

  /**
   * A device's own announcement (`devices/{id}/model`): stored in the
   * catalogue unless that version is there already, then given to the
   * device. `bad_request` for a model that does not parse; `conflict` when
   * the catalogue has another document at that id and version.
   */
  async announce(deviceId: string, value: unknown, now = Date.now()): Promise<void> {
    const model = this.parse(value);
    const put = await this.put(model, now);
    if (put === 'conflict') {
      throw new DomainError(
        'conflict',
        `the catalogue has another ${model.id} version ${model.version}: a changed model needs a higher version`,
      );
    }
    const current = await this.refOf(deviceId);
    if (current?.id === model.id && current.version === model.version) return;
    await this.assign(deviceId, refOf(model), now);
  }

  /** An admin's model for the catalogue: `created`, or `unchanged` when that version is there with the same document. */
  async create(
    value: unknown,
    now = Date.now(),
  ): Promise<{ model: DeviceModel; outcome: Exclude<ModelPut, 'conflict'> }> {
    const model = this.parse(value);
    const outcome = await this.put(model, now);
    if (outcome === 'conflict') {
      throw new DomainError(
        'conflict',
        `${model.id} version ${model.version} exists with another document; raise the version`,
      );
    }
    return { model, outcome };
  }

  /** Gives a device a model from the catalogue, or takes its model away (null). */
  async assign(deviceId: string, ref: ModelRef | null, now = Date.now()): Promise<void> {
    if (ref !== null && (await this.get(ref)) === undefined) {
      throw new DomainError('not_found', `the catalogue has no ${ref.id} version ${ref.version}`);
    }
    if (!(await this.models.assign(deviceId, ref, now))) throw new DomainError('not_found', `no device ${deviceId}`);
    this.remember(deviceId, ref);
    this.bus?.emit('device.changed', deviceId);
    // Before the answer, as every notice: the other replicas check by the new model from then on.
    if (!this.cluster.shared) return;
    await this.cluster
      .announce({ kind: 'device.model', deviceId })
      .catch((error: unknown) =>
        this.logger.error(`telling the other replicas of ${deviceId}'s model failed: ${String(error)}`),
      );
  }

  async get(ref: ModelRef): Promise<DeviceModel | undefined> {
    const key = `${ref.id}@${ref.version}`;
    const cached = this.catalogue.get(key);
    if (cached) return cached;
    const model = await this.models.get(ref);
    if (model) {
      if (this.catalogue.size >= MAX_CACHED_MODELS) this.catalogue.delete(this.catalogue.keys().next().value as string);
      this.catalogue.set(key, model);
    }
    return model;
  }

  list(limit: number, afterId?: string) {
    return this.models.list(limit, afterId);
  }

  versions(id: string): Promise<number[]> {
    return this.models.versions(id);
  }

  /** The model a device has, if any. */
  async modelOf(deviceId: string): Promise<DeviceModel | undefined> {
    const ref = await this.refOf(deviceId);
    return ref ? this.get(ref) : undefined;
  }

  /** A device's model, for its view: `not_found` when there is no such device. */
  async deviceModel(deviceId: string): Promise<DeviceModel | undefined> {
    if (!(await this.presence.known(deviceId))) throw new DomainError('not_found', `no device ${deviceId}`);
    return this.modelOf(deviceId);
  }

  /** Another replica changed a device's model, or the device is gone: read it again when next needed. */
  forget(deviceId: string): void {
    this.assigned.delete(deviceId);
    this.misfits.delete(deviceId);
  }

  /**
   * Checks a command against its device's model: `bad_request` naming what
   * is wrong when the model has no such command or the params do not fit.
   */
  async checkCommand(deviceId: string, name: string, params: JsonObject): Promise<CommandAllowance> {
    const model = await this.modelOf(deviceId);
    if (!model) return {};
    const commands = model.commands ?? {};
    if (!Object.prototype.hasOwnProperty.call(commands, name)) {
      throw new DomainError(
        'bad_request',
        `name: the model ${model.id} version ${model.version} has no command ${name}`,
      );
    }
    const spec = commands[name];
    const schema: ValueSchema = spec.params ?? { type: 'object', properties: {}, additionalProperties: false };
    const validate = this.validator(`${model.id}@${model.version}#c:${name}`, schema);
    if (!validate(params)) throw new DomainError('bad_request', describe('params', validate.errors));
    return spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs };
  }

  /**
   * The check of desired-state patches by the device's model (undefined:
   * the device has no model, or its model no desired properties). Every
   * property a patch sets must be one of the model's and, merged, fit its
   * schema (`bad_request` naming it); deleting one (null) is always allowed.
   */
  async desiredCheck(deviceId: string): Promise<((patch: JsonObject, merged: JsonObject) => void) | undefined> {
    const model = await this.modelOf(deviceId);
    const properties = model?.desired;
    if (!model || !properties) return undefined;
    return (patch, merged) => {
      for (const key of Object.keys(patch)) {
        if (patch[key] === null) continue;
        if (!Object.prototype.hasOwnProperty.call(properties, key)) {
          throw new DomainError(
            'bad_request',
            `desired.${key}: the model ${model.id} version ${model.version} has no such property`,
          );
        }
        const validate = this.validator(`${model.id}@${model.version}#d:${key}`, properties[key]);
        if (!validate(merged[key])) throw new DomainError('bad_request', describe(`desired.${key}`, validate.errors));
      }
    };
  }

  /** Stores a model unless its version is there: `unchanged` when with the same document, else `conflict`. */
  private async put(model: DeviceModel, now: number): Promise<ModelPut> {
    // A device announces its model at every connect: one in memory already needs no write.
    const known = this.catalogue.get(`${model.id}@${model.version}`);
    if (known) return jsonEqual(known, model) ? 'unchanged' : 'conflict';
    if (await this.models.insert(model, now)) return 'created';
    const stored = await this.get(model);
    return stored !== undefined && jsonEqual(stored, model) ? 'unchanged' : 'conflict';
  }

  private parse(value: unknown): DeviceModel {
    if (!isJsonObject(value)) throw new DomainError('bad_request', 'a model is a JSON object');
    const parsed = parseDeviceModel(value);
    if (!parsed.ok) throw new DomainError('bad_request', `model: ${parsed.error}`);
    const model = parsed.model;
    // Every schema compiles before the model is taken, so no command or patch to its devices can fail on it later.
    const schemas: Array<[string, string, ValueSchema]> = [
      ...Object.entries(model.commands ?? {}).flatMap(
        ([name, spec]): Array<[string, string, ValueSchema]> =>
          spec.params ? [[`c:${name}`, `commands.${name}.params`, spec.params]] : [],
      ),
      ...Object.entries(model.desired ?? {}).map(([key, schema]): [string, string, ValueSchema] => [
        `d:${key}`,
        `desired.${key}`,
        schema,
      ]),
    ];
    for (const [key, where, schema] of schemas) {
      try {
        this.validator(`${model.id}@${model.version}#${key}`, schema);
      } catch (error) {
        throw new DomainError(
          'bad_request',
          `model: ${where}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    return model;
  }

  private async refOf(deviceId: string): Promise<ModelRef | undefined> {
    if (this.assigned.has(deviceId)) return this.assigned.get(deviceId) ?? undefined;
    const ref = (await this.models.assigned(deviceId)) ?? null;
    this.remember(deviceId, ref);
    return ref ?? undefined;
  }

  private warm(deviceId: string): void {
    if (this.warming.has(deviceId) || this.warming.size >= MAX_WARMING) return;
    this.warming.add(deviceId);
    this.modelOf(deviceId)
      .catch((error: unknown) => this.logger.warn(`reading the model of ${deviceId}: ${String(error)}`))
      .finally(() => this.warming.delete(deviceId));
  }

  private remember(deviceId: string, ref: ModelRef | null): void {
    this.assigned.delete(deviceId);
    if (this.assigned.size >= MAX_CACHED_DEVICES) this.assigned.delete(this.assigned.keys().next().value as string);
    this.assigned.set(deviceId, ref);
  }

  private validator(key: string, schema: ValueSchema): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(schema);
      if (this.validators.size >= MAX_VALIDATORS) {
        const oldest = this.validators.keys().next().value as string;
        // ajv keeps every schema it compiled until told otherwise.
        this.ajv.removeSchema(this.validators.get(oldest)?.schema as object);
        this.validators.delete(oldest);
      }
      this.validators.set(key, validate);
    }
    return validate;
  }
}
