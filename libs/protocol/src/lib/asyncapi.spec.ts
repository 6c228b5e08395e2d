import * as z from 'zod';
import { type JsonSchema, asyncApiDocument, toJsonSchema } from './asyncapi';
import { clientFrameSchemas, serverFrameSchemas } from './socket';
import { streamEventSchemas } from './stream';

type Doc = {
  asyncapi: string;
  info: { title: string; version: string };
  servers: Record<string, { host: string; protocol: string }>;
  channels: Record<string, { address: string; messages: Record<string, { $ref: string }>; parameters?: object }>;
  operations: Record<
    string,
    { action: string; channel: { $ref: string }; messages: Array<{ $ref: string }>; bindings?: JsonSchema }
  >;
  components: { schemas: Record<string, JsonSchema>; messages: Record<string, { payload: { $ref: string } }> };
};

/** Follows a local `$ref` (`#/a/b`) through the document, unescaping as RFC 6901 says. */
function resolve(doc: unknown, ref: string): unknown {
  expect(ref.startsWith('#/')).toBe(true);
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !Object.prototype.hasOwnProperty.call(node, key)) {
      throw new Error(`${ref} does not resolve (at ${key})`);
    }
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Every `$ref` anywhere in a value. */
function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refsIn(item, found);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') found.push(item);
      else refsIn(item, found);
    }
  }
  return found;
}

describe('asyncApiDocument', () => {
  const doc = asyncApiDocument() as unknown as Doc;

  it('is an AsyncAPI 3.0.0 document with info, servers, channels and operations', () => {
    expect(doc.asyncapi).toBe('3.0.0');
    expect(doc.info.title).toEqual(expect.any(String));
    expect(doc.info.version).toEqual(expect.any(String));
    for (const server of Object.values(doc.servers)) {
      expect(server.host).toEqual(expect.any(String));
      expect(['mqtt', 'http', 'ws']).toContain(server.protocol);
    }
    expect(Object.keys(doc.channels).length).toBeGreaterThan(0);
    expect(Object.keys(doc.operations).length).toBeGreaterThan(0);
  });

  it('has a channel with an address and messages for every MQTT topic, the stream and the socket', () => {
    const addresses = Object.values(doc.channels).map((channel) => channel.address);
    expect(addresses).toEqual(
      expect.arrayContaining([
        'devices/{deviceId}/telemetry',
        'devices/{deviceId}/status',
        'devices/{deviceId}/state/reported',
        'devices/{deviceId}/state/desired',
        'devices/{deviceId}/commands/{commandId}',
        'devices/{deviceId}/commands/{commandId}/result',
        'devices/{deviceId}/errors',
        '/api/v1/stream',
        '/api/v1/ws',
      ]),
    );
    for (const channel of Object.values(doc.channels)) {
      expect(Object.keys(channel.messages).length).toBeGreaterThan(0);
      // Every {parameter} in an address is declared, and nothing else.
      const named = [...channel.address.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      expect(Object.keys(channel.parameters ?? {})).toEqual(named);
    }
  });

  it('sees operations from the platform: it receives what devices publish and sends the rest, with QoS', () => {
    const byAddress = (address: string) =>
      Object.values(doc.operations).filter(
        (op) => (resolve(doc, op.channel.$ref) as { address: string }).address === address,
      );
    expect(byAddress('devices/{deviceId}/telemetry').map((op) => op.action)).toEqual(['receive']);
    expect(byAddress('devices/{deviceId}/commands/{commandId}').map((op) => op.action)).toEqual(['send']);
    expect(byAddress('devices/{deviceId}/state/desired')[0].bindings).toEqual({
      mqtt: { qos: 1, retain: true, bindingVersion: '0.2.0' },
    });
    expect(byAddress('devices/{deviceId}/errors')[0].bindings).toMatchObject({ mqtt: { qos: 0 } });
    expect(byAddress('/api/v1/stream').map((op) => op.action)).toEqual(['send']);
    expect(
      byAddress('/api/v1/ws')
        .map((op) => op.action)
        .sort(),
    ).toEqual(['receive', 'send']);
    for (const op of Object.values(doc.operations)) {
      expect(['send', 'receive']).toContain(op.action);
      expect(op.channel.$ref).toMatch(/^#\/channels\/[^/]+$/);
      // An operation's messages are its channel's.
      for (const message of op.messages) expect(message.$ref.startsWith(`${op.channel.$ref}/messages/`)).toBe(true);
    }
  });

  it('resolves every $ref in the document', () => {
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of refs) expect(resolve(doc, ref)).toBeDefined();
  });

  it('has one SSE message per stream event and one WebSocket message per frame, each both ways', () => {
    const names = (channelAddress: string) => {
      const channel = Object.values(doc.channels).find((c) => c.address === channelAddress);
      return Object.values(channel?.messages ?? {}).map((ref) => (resolve(doc, ref.$ref) as { name: string }).name);
    };
    expect(names('/api/v1/stream')).toEqual(Object.keys(streamEventSchemas));
    expect(names('/api/v1/ws')).toEqual([...Object.keys(clientFrameSchemas), ...Object.keys(serverFrameSchemas)]);
    const [receive] = Object.values(doc.operations).filter(
      (op) => op.channel.$ref === '#/channels/socket' && op.action === 'receive',
    );
    expect(receive.messages.map((m) => m.$ref)).toEqual(
      Object.keys(clientFrameSchemas).map((name) => `#/channels/socket/messages/ws.${name}`),
    );
  });

  it('takes its payloads from the zod schemas', () => {
    expect(doc.components.schemas['sse.telemetry']).toEqual(toJsonSchema(streamEventSchemas.telemetry, 'output'));
    expect(doc.components.schemas['command']).toMatchObject({
      type: 'object',
      required: ['name', 'params', 'issuedAt', 'expiresAt'],
    });
    expect(doc.components.schemas['status']).toMatchObject({ enum: ['online', 'offline'] });
    expect(doc.components.schemas['ws.command.send']).toMatchObject({
      properties: { event: { const: 'command.send' }, data: { required: ['requestId', 'deviceId', 'name'] } },
    });
  });

  it('is the same document on every call (no time, no host of a run)', () => {
    expect(JSON.stringify(asyncApiDocument())).toBe(JSON.stringify(doc));
  });
});

describe('toJsonSchema', () => {
  it('says where the platform checks more than JSON Schema can state', () => {
    const refined = z.number().refine(Number.isFinite, 'numbers must be finite');
    expect(toJsonSchema(refined, 'input')).toEqual({
      type: 'number',
      $comment: 'also checked in code: numbers must be finite',
    });
    const custom = z.custom<object>((v) => typeof v === 'object', 'an object');
    expect(toJsonSchema(custom, 'input')).toEqual({
      $comment: 'checked in code, not expressible in JSON Schema: an object',
    });
  });

  it('shows a transformed input as it is sent', () => {
    const schema = z.string().transform((s) => s.length);
    expect(toJsonSchema(schema, 'input')).toEqual({ type: 'string' });
  });
});
