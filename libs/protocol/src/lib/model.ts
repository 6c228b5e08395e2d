import * as z from 'zod';
import { jsonShapeProblem } from './json-limits';
import { COMMAND_NAME_PATTERN, TELEMETRY_KEY_PATTERN, utf8Length } from './limits';

/**
 * A device model: what a kind of device measures, which commands it takes
 * with which parameters, and which state it has, declared once (in the
 * device's own code, or in the platform's catalogue) and checked everywhere.
 *
 * Parameter and state schemas are a subset of JSON Schema (2020-12): the
 * keywords a form can be generated from and a value checked against in
 * bounded time. `pattern`, `format`, `$ref` and combinators are not part of
 * it, so a model from a device cannot make the platform run a hostile
 * regular expression or fetch anything.
 */

/** A model id, such as `acme.thermostat`: lower case, digits, `.`, `_` and `-`. */
export const MODEL_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** A property name in a parameter or state schema. */
export const MODEL_PROPERTY_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

export const MODEL_LIMITS = {
  /** Largest model, as JSON, in bytes. */
  maxModelBytes: 64 * 1024,
  /** Telemetry keys a model may describe. */
  maxTelemetryKeys: 256,
  /** Commands a model may describe. */
  maxCommands: 64,
  /** Properties of an object schema, and desired or reported properties of a model. */
  maxProperties: 64,
  /** Values of an `enum`. */
  maxEnumValues: 64,
  /** Deepest nesting of JSON objects and arrays in a model (`{}` is 1). */
  maxDepth: 12,
  /** Longest title, unit or enum value, in characters. */
  maxTextLength: 128,
  /** Longest description, in characters. */
  maxDescriptionLength: 1024,
} as const;

const text = z.string().min(1).max(MODEL_LIMITS.maxTextLength);
const description = z.string().max(MODEL_LIMITS.maxDescriptionLength);
const scalar = z.union([z.string().max(MODEL_LIMITS.maxTextLength), z.number(), z.boolean()]);
const count = z.int().min(0).max(1_000_000);

/** The JSON Schema types a value schema may have. */
export const VALUE_TYPES = ['number', 'integer', 'boolean', 'string', 'object', 'array'] as const;

/** A value schema: the subset of JSON Schema that models use for parameters and state. */
export interface ValueSchema {
  type: (typeof VALUE_TYPES)[number];
  title?: string;
  description?: string;
  /** A unit of measure for a number, such as `°C` or `kWh` (an annotation, as `title` is). */
  unit?: string;
  default?: unknown;
  enum?: Array<string | number | boolean>;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  properties?: Record<string, ValueSchema>;
  required?: string[];
  additionalProperties?: boolean;
  items?: ValueSchema;
  minItems?: number;
  maxItems?: number;
}

function properties<T extends z.ZodType>(value: T) {
  return z
    .record(z.string().regex(MODEL_PROPERTY_PATTERN, 'property names must match ^[A-Za-z_][A-Za-z0-9_-]{0,63}$'), value)
    .refine((map) => Object.keys(map).length <= MODEL_LIMITS.maxProperties, {
      message: `at most ${MODEL_LIMITS.maxProperties} properties`,
    });
}

export const valueSchemaSchema: z.ZodType<ValueSchema> = z
  .strictObject({
    type: z.enum(VALUE_TYPES),
    title: text.optional(),
    description: description.optional(),
    unit: text.optional(),
    default: z.unknown().optional(),
    enum: z.array(scalar).min(1).max(MODEL_LIMITS.maxEnumValues).optional(),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    exclusiveMinimum: z.number().optional(),
    exclusiveMaximum: z.number().optional(),
    multipleOf: z.number().positive().optional(),
    minLength: count.optional(),
    maxLength: count.optional(),
    get properties() {
      return properties(valueSchemaSchema).optional();
    },
    required: z.array(z.string().regex(MODEL_PROPERTY_PATTERN)).max(MODEL_LIMITS.maxProperties).optional(),
    additionalProperties: z.boolean().optional(),
    get items() {
      return valueSchemaSchema.optional();
    },
    minItems: count.optional(),
    maxItems: count.optional(),
  })
  .superRefine((schema, ctx) => {
    const objectOnly = ['properties', 'required', 'additionalProperties'] as const;
    const arrayOnly = ['items', 'minItems', 'maxItems'] as const;
    const stringOnly = ['minLength', 'maxLength'] as const;
    const numberOnly = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'] as const;
    const misplaced = (keys: readonly (keyof ValueSchema)[], types: readonly ValueSchema['type'][]) => {
      if (types.includes(schema.type)) return;
      for (const key of keys) {
        if (schema[key] !== undefined)
          ctx.addIssue({ code: 'custom', path: [key], message: `not for type ${schema.type}` });
      }
    };
    misplaced(objectOnly, ['object']);
    misplaced(arrayOnly, ['array']);
    misplaced(stringOnly, ['string']);
    misplaced(numberOnly, ['number', 'integer']);
    for (const name of schema.required ?? []) {
      if (!schema.properties || !Object.prototype.hasOwnProperty.call(schema.properties, name)) {
        ctx.addIssue({ code: 'custom', path: ['required'], message: `${name} is not among the properties` });
      }
    }
  });

/** How the console charts a telemetry key: a line, steps (on/off, modes), or not at all. */
export const CHART_KINDS = ['line', 'step', 'none'] as const;

/** One telemetry key of a model. */
export const telemetrySpecSchema = z
  .strictObject({
    type: z.enum(['number', 'integer', 'boolean', 'string', 'enum']),
    title: text.optional(),
    description: description.optional(),
    unit: text.optional(),
    /** Decimals shown. */
    precision: z.int().min(0).max(10).optional(),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    /** The values of an `enum` key, which is sent as a string. */
    values: z.array(text).min(1).max(MODEL_LIMITS.maxEnumValues).optional(),
    chart: z.enum(CHART_KINDS).optional(),
  })
  .superRefine((spec, ctx) => {
    if ((spec.type === 'enum') !== (spec.values !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['values'], message: 'values are given for an enum key, and only for one' });
    }
    if (spec.minimum !== undefined && spec.maximum !== undefined && spec.minimum > spec.maximum) {
      ctx.addIssue({ code: 'custom', path: ['minimum'], message: 'minimum is above maximum' });
    }
  });
export type TelemetrySpec = z.infer<typeof telemetrySpecSchema>;

/** One command of a model. */
export const commandSpecSchema = z.strictObject({
  title: text.optional(),
  description: description.optional(),
  /** Its parameters: an object schema (none: the command takes `{}`). */
  params: valueSchemaSchema
    .refine((schema) => schema.type === 'object', 'the params schema is of type object')
    .optional(),
  /** How long the device has to answer when the sender gives no timeout, ms. */
  timeoutMs: z.int().min(100).max(86_400_000).optional(),
  /** Whether the device reports progress (`in-progress`) while it runs. */
  longRunning: z.boolean().optional(),
});
export type CommandSpec = z.infer<typeof commandSpecSchema>;

function bounded<T extends z.ZodType>(key: RegExp, value: T, most: number, what: string) {
  return z.record(z.string().regex(key), value).refine((map) => Object.keys(map).length <= most, {
    message: `at most ${most} ${what}`,
  });
}

const modelId = z.string().regex(MODEL_ID_PATTERN, 'model ids must match ^[a-z0-9][a-z0-9._-]{0,63}$');
const modelVersion = z
  .int()
  .min(1)
  .max(2 ** 31 - 1);

/** A device model, as a device announces it or the catalogue keeps it. */
export const deviceModelSchema = z.strictObject({
  id: modelId,
  /** Rises with every change of the model. */
  version: modelVersion,
  title: text.optional(),
  description: description.optional(),
  telemetry: bounded(
    TELEMETRY_KEY_PATTERN,
    telemetrySpecSchema,
    MODEL_LIMITS.maxTelemetryKeys,
    'telemetry keys',
  ).optional(),
  commands: bounded(COMMAND_NAME_PATTERN, commandSpecSchema, MODEL_LIMITS.maxCommands, 'commands').optional(),
  /** Desired-state properties the device takes, each with its schema. */
  desired: bounded(
    MODEL_PROPERTY_PATTERN,
    valueSchemaSchema,
    MODEL_LIMITS.maxProperties,
    'desired properties',
  ).optional(),
  /** Reported-state properties the device sends. */
  reported: bounded(
    MODEL_PROPERTY_PATTERN,
    valueSchemaSchema,
    MODEL_LIMITS.maxProperties,
    'reported properties',
  ).optional(),
});
export type DeviceModel = z.infer<typeof deviceModelSchema>;

/** The outcome of {@link parseDeviceModel}. */
export type ModelParse = { ok: true; model: DeviceModel } | { ok: false; error: string };

/**
 * Parses an untrusted model (already `JSON.parse`d): its size, depth and
 * `__proto__` keys are checked without recursion first, then its shape.
 */
export function parseDeviceModel(value: unknown): ModelParse {
  switch (jsonShapeProblem(value, MODEL_LIMITS.maxDepth)) {
    case 'too_deep':
      return { ok: false, error: `a model may nest at most ${MODEL_LIMITS.maxDepth} levels` };
    case 'proto_key':
      return { ok: false, error: 'a model may not have a __proto__ key' };
    case undefined:
      break;
  }
  if (utf8Length(JSON.stringify(value) ?? '') > MODEL_LIMITS.maxModelBytes) {
    return { ok: false, error: `a model may be at most ${MODEL_LIMITS.maxModelBytes} bytes` };
  }
  const parsed = deviceModelSchema.safeParse(value);
  if (parsed.success) return { ok: true, model: parsed.data };
  const issue = parsed.error.issues[0];
  const path = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return { ok: false, error: `${path}${issue.message}` };
}

/** The model format as a JSON Schema document, for authors and tools outside TypeScript. */
export function deviceModelJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(deviceModelSchema, { target: 'draft-2020-12', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
}

/** A model in the catalogue: its id and version. */
export const modelRefSchema = z.strictObject({ id: modelId, version: modelVersion });
export type ModelRef = z.infer<typeof modelRefSchema>;

/** `PUT /devices/{id}/model`: the catalogue's model to give the device, or null to take its model away. */
export const assignModelSchema = z.object({ model: modelRefSchema.nullable() });
export type AssignModelRequest = z.infer<typeof assignModelSchema>;

/** `GET /models`: paged by id. */
export const listModelsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(64).optional(),
});

/** One entry of `GET /models`: a model at its newest version. */
export const modelSummarySchema = z.object({
  id: z.string(),
  version: z.int(),
  title: z.string().nullable(),
  /** How many versions the catalogue has of it. */
  versions: z.int(),
});
export type ModelSummaryView = z.infer<typeof modelSummarySchema>;

export const modelListResponseSchema = z.object({
  items: z.array(modelSummarySchema),
  /** Hand it back as `cursor` for the next page; null on the last. */
  nextCursor: z.string().nullable(),
});
export type ModelListResponse = z.infer<typeof modelListResponseSchema>;

/** `GET /models/{id}/versions`: newest first. */
export const modelVersionsSchema = z.object({ versions: z.array(z.int()) });

/** Why a telemetry value does not fit its key in the device's model. */
export function telemetryMisfit(spec: TelemetrySpec, value: unknown): string | undefined {
  switch (spec.type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'not a boolean';
    case 'string':
      return typeof value === 'string' ? undefined : 'not a string';
    case 'enum':
      return typeof value === 'string' && spec.values?.includes(value) ? undefined : 'not one of its values';
    case 'integer':
    case 'number':
      if (typeof value !== 'number') return 'not a number';
      if (spec.type === 'integer' && !Number.isInteger(value)) return 'not an integer';
      if (spec.minimum !== undefined && value < spec.minimum) return `below its minimum ${spec.minimum}`;
      if (spec.maximum !== undefined && value > spec.maximum) return `above its maximum ${spec.maximum}`;
      return undefined;
  }
}

/** Telemetry of one key that did not fit the device's model: stored all the same, and counted. */
export const telemetryMisfitSchema = z.object({
  count: z.int(),
  /** The last one: when, its value and why it did not fit. */
  ts: z.number(),
  value: z.unknown(),
  problem: z.string(),
});
export type TelemetryMisfitView = z.infer<typeof telemetryMisfitSchema>;

/** `GET` and `PUT /devices/{id}/model`: the device's model (null when it has none) and its telemetry misfits. */
export const deviceModelViewSchema = z.object({
  model: deviceModelSchema.nullable(),
  /** By telemetry key, since this api process started (each replica counts its own). */
  misfits: z.record(z.string(), telemetryMisfitSchema),
});
export type DeviceModelView = z.infer<typeof deviceModelViewSchema>;

/** `GET /models/schema.json`: a JSON Schema document. */
export const jsonSchemaDocumentSchema = z.record(z.string(), z.unknown());
