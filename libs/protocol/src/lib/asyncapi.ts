import * as z from 'zod';
import { API_BASE_PATH } from './api';
import { DEVICE_ID_PATTERN, LIMITS } from './limits';
import {
  commandMessageSchema,
  commandResultSchema,
  desiredStateDocumentSchema,
  deviceStatusSchema,
  errorNoticeSchema,
  reportedStatePatchSchema,
} from './messages';
import { SOCKET_PATH, clientFrameSchemas, serverFrameSchemas } from './socket';
import { STREAM_HEARTBEAT_MS, STREAM_PATH, streamEventSchemas } from './stream';
import { telemetryValuesSchema, timedTelemetrySchema } from './telemetry';
import { COMMAND_ID_PATTERN } from './topics';
import { deviceModelSchema, MODEL_LIMITS } from './model';

/**
 * The AsyncAPI 3.0 document of the platform's messages: MQTT topics, the SSE
 * stream and the WebSocket frames. Every payload schema is converted from the
 * zod schemas of this library, so the document cannot drift from them.
 */

/** Where the api serves the document (outside the versioned base path, like `/api/docs`). */
export const ASYNCAPI_DOCUMENT_PATH = '/api/asyncapi.json';

export type JsonSchema = { [key: string]: unknown };

/**
 * Whether a payload is read by the platform (`input`: as a sender may write
 * it, before defaults and transforms) or written by it (`output`).
 */
type SchemaIo = 'input' | 'output';

interface ZodInternals {
  _zod: {
    def: {
      type: string;
      error?: (issue?: unknown) => unknown;
      checks?: Array<{ _zod: { def: { check: string; error?: (issue?: unknown) => unknown } } }>;
    };
  };
}

/** What a refinement says of itself, for the `$comment` that states it. */
function ruleMessage(error: ((issue?: unknown) => unknown) | undefined): string {
  try {
    const message = error?.();
    if (typeof message === 'string') return message;
    if (
      typeof message === 'object' &&
      message !== null &&
      typeof (message as { message?: unknown }).message === 'string'
    ) {
      return (message as { message: string }).message;
    }
  } catch {
    // a message built from the issue: say only that there is a rule
  }
  return 'a rule checked in code';
}

/**
 * A zod schema as JSON Schema draft 7 (which AsyncAPI's schema format
 * extends). What JSON Schema cannot state is not hidden: a custom type or a
 * transform becomes `{}` (`unrepresentable: 'any'`) and a refinement is
 * dropped, and each carries a `$comment` saying the platform checks more.
 */
export function toJsonSchema(schema: z.ZodType, io: SchemaIo): JsonSchema {
  const json = z.toJSONSchema(schema, {
    target: 'draft-7',
    io,
    unrepresentable: 'any',
    reused: 'inline',
    override: (ctx) => {
      const def = (ctx.zodSchema as unknown as ZodInternals)._zod.def;
      const notes: string[] = [];
      if (def.type === 'custom')
        notes.push(`checked in code, not expressible in JSON Schema: ${ruleMessage(def.error)}`);
      if (def.type === 'transform') notes.push('transformed in code, not expressible in JSON Schema');
      for (const check of def.checks ?? []) {
        if (check._zod.def.check === 'custom') notes.push(`also checked in code: ${ruleMessage(check._zod.def.error)}`);
      }
      if (notes.length > 0) ctx.jsonSchema.$comment = notes.join('; ');
    },
  }) as JsonSchema;
  delete json['$schema'];
  return json;
}

/** The three forms of a telemetry payload, as parseTelemetry reads them (which also bounds the batch). */
const telemetryEntrySchema = z.union([telemetryValuesSchema, timedTelemetrySchema]);
const telemetryPayloadSchema = z
  .union([telemetryEntrySchema, z.array(telemetryEntrySchema).min(1).max(LIMITS.maxBatchEntries)])
  .describe(
    `Flat values, {"ts", "values"}, or a batch of 1 to ${LIMITS.maxBatchEntries} of them (the default of TELEMETRY_MAX_BATCH). ` +
      'ts: epoch ms or ISO 8601, at most 5 minutes ahead of the platform clock.',
  );

type ServerId = 'mqtt' | 'http' | 'ws';

interface MessageSpec {
  /** The message's name on the wire: an SSE `event:` or a WebSocket frame's `event`. */
  name: string;
  summary: string;
  schema: z.ZodType;
  io: SchemaIo;
  contentType?: string;
}

interface ChannelSpec {
  address: string;
  server: ServerId;
  description: string;
  parameters?: Record<string, string>;
  /** Message id (unique in the document) → message. */
  messages: Record<string, MessageSpec>;
}

interface OperationSpec {
  action: 'send' | 'receive';
  channel: string;
  summary: string;
  /** Ids of messages of the channel; all of them when absent. */
  messages?: string[];
  bindings?: JsonSchema;
}

const MQTT_BINDING_VERSION = '0.2.0';
const mqttBinding = (qos: 0 | 1 | 2, retain: boolean) => ({
  mqtt: { qos, retain, bindingVersion: MQTT_BINDING_VERSION },
});

const deviceIdParameter = `The device id, also its MQTT username and client id: ${DEVICE_ID_PATTERN.source}`;
const commandIdParameter = `Made by the platform, sortable by time; topics accept ${COMMAND_ID_PATTERN.source}`;

/** Both parameters, each once, in the order of the topic. */
const deviceParameters = { deviceId: deviceIdParameter };
const commandParameters = { deviceId: deviceIdParameter, commandId: commandIdParameter };

function channels(): Record<string, ChannelSpec> {
  const stream: Record<string, MessageSpec> = {};
  for (const [name, schema] of Object.entries(streamEventSchemas)) {
    stream[`sse.${name}`] = {
      name,
      summary: `\`event: ${name}\`; the data line is this JSON.`,
      schema,
      io: 'output',
    };
  }
  const socket: Record<string, MessageSpec> = {};
  for (const [name, schema] of Object.entries(clientFrameSchemas)) {
    socket[`ws.${name}`] = {
      name,
      summary: `Client → server \`${name}\` frame.`,
      schema: z.object({ event: z.literal(name), data: schema }),
      io: 'input',
    };
  }
  for (const [name, schema] of Object.entries(serverFrameSchemas)) {
    socket[`ws.${name}`] = {
      name,
      summary: `Server → client \`${name}\` frame.`,
      schema: z.object({ event: z.literal(name), data: schema }),
      io: 'output',
    };
  }
  return {
    telemetry: {
      address: 'devices/{deviceId}/telemetry',
      server: 'mqtt',
      description: 'Telemetry from a device, QoS 0 or 1. A message is taken whole or refused whole (an error notice).',
      parameters: deviceParameters,
      messages: {
        telemetry: { name: 'telemetry', summary: 'Telemetry values.', schema: telemetryPayloadSchema, io: 'input' },
      },
    },
    status: {
      address: 'devices/{deviceId}/status',
      server: 'mqtt',
      description: 'Presence, retained: `online` or `offline` as plain text; set `offline` as the will.',
      parameters: deviceParameters,
      messages: {
        status: {
          name: 'status',
          summary: 'The text `online` or `offline` (not JSON).',
          schema: deviceStatusSchema,
          io: 'input',
          contentType: 'text/plain',
        },
      },
    },
    stateReported: {
      address: 'devices/{deviceId}/state/reported',
      server: 'mqtt',
      description: `An RFC 7396 merge patch of the reported state; nested at most ${LIMITS.maxStateDepth} levels, no \`__proto__\` key.`,
      parameters: deviceParameters,
      messages: {
        reportedState: {
          name: 'state.reported',
          summary: 'Merge patch of the reported state.',
          schema: reportedStatePatchSchema,
          io: 'input',
        },
      },
    },
    stateDesired: {
      address: 'devices/{deviceId}/state/desired',
      server: 'mqtt',
      description: 'The whole desired document, retained, published again whenever an operator changes it.',
      parameters: deviceParameters,
      messages: {
        desiredState: {
          name: 'state.desired',
          summary: 'The desired document and its version.',
          schema: desiredStateDocumentSchema,
          io: 'output',
        },
      },
    },
    command: {
      address: 'devices/{deviceId}/commands/{commandId}',
      server: 'mqtt',
      description: `A command for the device; \`params\` at most ${LIMITS.maxWsFrameBytes} bytes as JSON. Subscribe to \`devices/{deviceId}/commands/+\`.`,
      parameters: commandParameters,
      messages: { command: { name: 'command', summary: 'A command.', schema: commandMessageSchema, io: 'output' } },
    },
    commandResult: {
      address: 'devices/{deviceId}/commands/{commandId}/result',
      server: 'mqtt',
      description:
        'The device answers a command: any number of `accepted` / `in-progress`, then `succeeded` or `failed`.',
      parameters: commandParameters,
      messages: {
        commandResult: {
          name: 'command.result',
          summary: 'A command result.',
          schema: commandResultSchema,
          io: 'input',
        },
      },
    },
    errors: {
      address: 'devices/{deviceId}/errors',
      server: 'mqtt',
      description: 'Why the platform refused a message from this device.',
      parameters: deviceParameters,
      messages: {
        errorNotice: { name: 'errors', summary: 'An error notice.', schema: errorNoticeSchema, io: 'output' },
      },
    },
    model: {
      address: 'devices/{deviceId}/model',
      server: 'mqtt',
      description: `The device's model (what it measures, which commands and state it has), announced at every connect; at most ${MODEL_LIMITS.maxModelBytes} bytes.`,
      parameters: deviceParameters,
      messages: {
        model: { name: 'model', summary: 'A device model.', schema: deviceModelSchema, io: 'input' },
      },
    },
    stream: {
      address: `${API_BASE_PATH}${STREAM_PATH}`,
      server: 'http',
      description:
        'Server-Sent Events (`GET`, `text/event-stream`), authenticated like any request. Each event is an `id:` ' +
        '(hand it back as `Last-Event-ID` to resume), an `event:` name and one `data:` line of JSON. ' +
        `Query: \`devices\` and \`events\` (comma-separated), \`lastEventId\`. A comment every ${STREAM_HEARTBEAT_MS / 1000} s.`,
      messages: stream,
    },
    socket: {
      address: `${API_BASE_PATH}${SOCKET_PATH}`,
      server: 'ws',
      description:
        `WebSocket: JSON text frames \`{"event", "data"}\` of at most ${LIMITS.maxWsFrameBytes} bytes. ` +
        'Every client request carries a `requestId` and gets exactly one direct reply.',
      messages: socket,
    },
  };
}

function operations(): Record<string, OperationSpec> {
  const clientFrames = Object.keys(clientFrameSchemas).map((name) => `ws.${name}`);
  const serverFrames = Object.keys(serverFrameSchemas).map((name) => `ws.${name}`);
  return {
    receiveTelemetry: {
      action: 'receive',
      channel: 'telemetry',
      summary: 'Devices publish telemetry (QoS 0 or 1).',
      bindings: mqttBinding(1, false),
    },
    receiveStatus: {
      action: 'receive',
      channel: 'status',
      summary: 'Devices publish their presence.',
      bindings: mqttBinding(1, true),
    },
    receiveReportedState: {
      action: 'receive',
      channel: 'stateReported',
      summary: 'Devices publish patches of their state.',
      bindings: mqttBinding(1, false),
    },
    sendDesiredState: {
      action: 'send',
      channel: 'stateDesired',
      summary: 'The platform publishes the desired document, retained.',
      bindings: mqttBinding(1, true),
    },
    sendCommand: {
      action: 'send',
      channel: 'command',
      summary: 'The platform sends a command.',
      bindings: mqttBinding(1, false),
    },
    receiveCommandResult: {
      action: 'receive',
      channel: 'commandResult',
      summary: 'Devices answer their commands.',
      bindings: mqttBinding(1, false),
    },
    sendErrorNotice: {
      action: 'send',
      channel: 'errors',
      summary: 'The platform tells a device why it refused a message.',
      bindings: mqttBinding(0, false),
    },
    receiveModel: {
      action: 'receive',
      channel: 'model',
      summary: 'Devices announce their model at every connect.',
      bindings: mqttBinding(1, false),
    },
    sendStreamEvents: {
      action: 'send',
      channel: 'stream',
      summary: 'The platform streams events to browsers and other clients.',
      bindings: { http: { method: 'GET', bindingVersion: '0.3.0' } },
    },
    receiveClientFrames: {
      action: 'receive',
      channel: 'socket',
      summary: 'Clients send commands, cancels and desired-state changes.',
      messages: clientFrames,
    },
    sendServerFrames: {
      action: 'send',
      channel: 'socket',
      summary: 'The platform answers requests and reports command status.',
      messages: serverFrames,
    },
  };
}

/** Builds the AsyncAPI 3.0 document. Pure: the same document on every call. */
/** A schema's own `#/…` references (its recursive definitions) made to point into it where it is placed. */
function rebased(schema: JsonSchema, at: string): JsonSchema {
  const text = JSON.stringify(schema);
  return text.includes('"$ref":"#/') ? (JSON.parse(text.replace(/"\$ref":"#\//g, `"$ref":"${at}/`)) as JsonSchema) : schema;
}

export function asyncApiDocument(): JsonSchema {
  const channelSpecs = channels();
  const schemas: JsonSchema = {};
  const messages: JsonSchema = {};
  const channelObjects: JsonSchema = {};
  for (const [channelId, channel] of Object.entries(channelSpecs)) {
    const refs: JsonSchema = {};
    for (const [messageId, message] of Object.entries(channel.messages)) {
      schemas[messageId] = rebased(toJsonSchema(message.schema, message.io), `#/components/schemas/${messageId}`);
      messages[messageId] = {
        name: message.name,
        summary: message.summary,
        contentType: message.contentType ?? 'application/json',
        payload: { $ref: `#/components/schemas/${messageId}` },
      };
      refs[messageId] = { $ref: `#/components/messages/${messageId}` };
    }
    channelObjects[channelId] = {
      address: channel.address,
      description: channel.description,
      servers: [{ $ref: `#/servers/${channel.server}` }],
      ...(channel.parameters && {
        parameters: Object.fromEntries(
          Object.entries(channel.parameters).map(([name, description]) => [name, { description }]),
        ),
      }),
      messages: refs,
    };
  }
  const operationObjects: JsonSchema = {};
  for (const [operationId, operation] of Object.entries(operations())) {
    const ids = operation.messages ?? Object.keys(channelSpecs[operation.channel].messages);
    operationObjects[operationId] = {
      action: operation.action,
      channel: { $ref: `#/channels/${operation.channel}` },
      summary: operation.summary,
      messages: ids.map((id) => ({ $ref: `#/channels/${operation.channel}/messages/${id}` })),
      ...(operation.bindings && { bindings: operation.bindings }),
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'IoT platform messages',
      version: '1',
      description:
        'MQTT topics between devices and the platform, the Server-Sent Events stream and the WebSocket frames. ' +
        "Operations are seen from the platform's side: it receives what devices and clients send, and sends the rest. " +
        'Payload schemas are converted from the zod schemas of libs/protocol; where a rule cannot be stated in JSON ' +
        'Schema (a refinement, a custom check) the schema says so in a `$comment`. docs/protocol.md is the prose contract.',
    },
    defaultContentType: 'application/json',
    servers: {
      mqtt: {
        host: '{host}:{port}',
        protocol: 'mqtt',
        protocolVersion: '3.1.1',
        description: 'The embedded broker (MQTT_PORT), or an external broker (MQTT_URL).',
        variables: { host: { default: 'localhost' }, port: { default: '1883' } },
        security: [{ $ref: '#/components/securitySchemes/deviceLogin' }],
      },
      http: {
        host: '{host}:{port}',
        protocol: 'http',
        description: 'The api (PORT).',
        variables: { host: { default: 'localhost' }, port: { default: '3000' } },
        security: [
          { $ref: '#/components/securitySchemes/bearer' },
          { $ref: '#/components/securitySchemes/sessionCookie' },
        ],
      },
      ws: {
        host: '{host}:{port}',
        protocol: 'ws',
        description: 'The api (PORT).',
        variables: { host: { default: 'localhost' }, port: { default: '3000' } },
        security: [
          { $ref: '#/components/securitySchemes/bearer' },
          { $ref: '#/components/securitySchemes/sessionCookie' },
        ],
      },
    },
    channels: channelObjects,
    operations: operationObjects,
    components: {
      schemas,
      messages,
      securitySchemes: {
        deviceLogin: {
          type: 'userPassword',
          description: 'Client id = username = device id; the password is the device secret.',
        },
        bearer: { type: 'http', scheme: 'bearer', description: 'The accessToken of POST /api/v1/auth/login.' },
        sessionCookie: { type: 'httpApiKey', name: 'iot_session', in: 'cookie', description: 'Set by the login.' },
      },
    },
  };
}
