import * as z from 'zod';
import {
  type CommandSpec,
  type DeviceModel,
  type JsonObject,
  type TelemetrySpec,
  type ValueSchema,
  parseDeviceModel,
} from '@iot/protocol';

/** A command as declared in code: its params as a zod object schema (none: it takes `{}`). */
export interface CommandDeclaration extends Omit<CommandSpec, 'params'> {
  params?: z.ZodObject;
}

/**
 * A device model as declared in a device's code: the protocol's model
 * (docs/protocol.md §2.8), with parameter and state schemas given as zod
 * schemas, from which both the model's JSON Schema and the handlers' types
 * are made.
 */
export interface ModelDeclaration {
  id: string;
  version: number;
  title?: string;
  description?: string;
  telemetry?: Record<string, TelemetrySpec>;
  commands?: Record<string, CommandDeclaration>;
  desired?: Record<string, z.ZodType>;
  reported?: Record<string, z.ZodType>;
}

/** A model made by {@link defineModel}: what the device announces, and its declaration for the types. */
export interface DefinedModel<D extends ModelDeclaration = ModelDeclaration> {
  /** The model as the device announces it on `devices/{id}/model`. */
  readonly model: DeviceModel;
  /** The declaration it was made from. */
  readonly declaration: D;
}

type Commands<D extends ModelDeclaration> = NonNullable<D['commands']>;
type Reported<D extends ModelDeclaration> = NonNullable<D['reported']>;

/** The command names a model declares (any name without a model). */
export type CommandNameOf<M> = M extends DefinedModel<infer D> ? keyof Commands<D> & string : string;

/** A command's params, as the handler gets them. */
export type CommandParamsOf<M, N> =
  M extends DefinedModel<infer D>
    ? N extends keyof Commands<D>
      ? Commands<D>[N]['params'] extends z.ZodObject
        ? z.infer<NonNullable<Commands<D>[N]['params']>>
        : Record<string, never>
      : never
    : JsonObject;

/** A reported-state patch: the model's reported properties, each its type or null (removed). */
export type ReportedPatchOf<M> =
  M extends DefinedModel<infer D> ? { [K in keyof Reported<D>]?: z.infer<Reported<D>[K]> | null } : JsonObject;

/** A zod schema as a model value schema: JSON Schema without its `$schema`. */
function valueSchema(schema: z.ZodType, where: string): ValueSchema {
  let json: Record<string, unknown>;
  try {
    json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${where}: ${error instanceof Error ? error.message : String(error)}`);
  }
  delete json['$schema'];
  return json as unknown as ValueSchema;
}

function mapValues<T, U>(record: Record<string, T> | undefined, f: (value: T, key: string) => U) {
  return record && Object.fromEntries(Object.entries(record).map(([key, value]) => [key, f(value, key)]));
}

/**
 * Declares a device's model in code. Throws when the model breaks the
 * format (an id, a limit, a schema keyword outside the subset, such as a
 * zod `.regex()`), so a device never announces a model the platform refuses.
 *
 * ```ts
 * const thermostat = defineModel({
 *   id: 'acme.thermostat',
 *   version: 1,
 *   telemetry: { temperature: { type: 'number', unit: '°C', precision: 1 } },
 *   commands: { 'setpoint.set': { params: z.object({ value: z.number().min(5).max(30) }) } },
 *   reported: { setpoint: z.number() },
 * });
 * const device = connectDevice({ url, deviceId, password, model: thermostat });
 * device.onCommand('setpoint.set', ({ value }) => ({ setpoint: value })); // `value` is a number
 * ```
 */
export function defineModel<const D extends ModelDeclaration>(declaration: D): DefinedModel<D> {
  const { commands, desired, reported, ...rest } = declaration;
  const model = {
    ...rest,
    ...(commands && {
      commands: mapValues(commands, ({ params, ...spec }, name) => ({
        ...spec,
        ...(params && { params: valueSchema(params, `commands.${name}.params`) }),
      })),
    }),
    ...(desired && { desired: mapValues(desired, (schema, key) => valueSchema(schema, `desired.${key}`)) }),
    ...(reported && { reported: mapValues(reported, (schema, key) => valueSchema(schema, `reported.${key}`)) }),
  };
  const parsed = parseDeviceModel(model);
  if (!parsed.ok) throw new Error(`invalid device model ${JSON.stringify(declaration.id)}: ${parsed.error}`);
  return { model: parsed.model, declaration };
}
