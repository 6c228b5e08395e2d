import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as z from 'zod';
import { type CommandAccepted, type LoginResponse, apiErrorSchema, asyncApiDocument } from '@iot/protocol';
import * as responses from '../src/edges/http/docs/api-responses';
import { API_DOCUMENT_FILES, serializeDocument } from '../src/edges/http/docs/openapi';
import { ADMIN, type TestApp, api, startApp } from './harness';

const REGENERATE = 'npm run docs:api';

interface ResponseSchema {
  $ref?: string;
  type?: string;
  items?: { $ref?: string };
}
interface Operation {
  responses: Record<string, { content?: Record<string, { schema: ResponseSchema }> }>;
}
interface OpenApi {
  openapi: string;
  servers?: unknown[];
  paths: Record<string, Record<string, Operation>>;
}

/** The answer's JSON, fetched without a login. */
async function publicJson(app: TestApp, path: string): Promise<{ status: number; body: object }> {
  const res = await fetch(`${app.url}${path}`);
  return { status: res.status, body: (await res.json()) as object };
}

/** A committed document must be what the code generates now, byte for byte. */
function expectCommitted(file: string, served: object): void {
  const committed = readFileSync(resolve(__dirname, '../../..', file), 'utf8');
  if (committed !== serializeDocument(served)) {
    throw new Error(`${file} differs from the document the code generates: run \`${REGENERATE}\` and commit it`);
  }
}

function schemaRef(doc: OpenApi, path: string, method: string, status: number): string | undefined {
  return doc.paths[path]?.[method]?.responses[String(status)]?.content?.['application/json']?.schema.$ref;
}

describe('API documents', () => {
  let app: TestApp;
  let openapi: OpenApi;

  beforeAll(async () => {
    app = await startApp();
    const served = await publicJson(app, '/api/docs-json');
    expect(served.status).toBe(200);
    openapi = served.body as OpenApi;
  });
  afterAll(() => app.stop());

  it('serves the AsyncAPI document at /api/asyncapi.json without a login', async () => {
    const { status, body } = await publicJson(app, '/api/asyncapi.json');
    expect(status).toBe(200);
    expect(body).toEqual(asyncApiDocument());
  });

  it(`has docs/asyncapi.json as the code generates it (else: ${REGENERATE})`, async () => {
    expectCommitted(API_DOCUMENT_FILES.asyncapi, (await publicJson(app, '/api/asyncapi.json')).body);
  });

  it(`has docs/openapi.json as the code generates it (else: ${REGENERATE})`, () => {
    expectCommitted(API_DOCUMENT_FILES.openapi, openapi);
  });

  it('names no host or port of the run in the OpenAPI document', () => {
    const text = JSON.stringify(openapi);
    expect(openapi.servers ?? []).toEqual([]);
    expect(text).not.toContain('127.0.0.1');
    expect(text).not.toContain('localhost');
    expect(text).not.toMatch(new RegExp(`(^|[^0-9])${app.port}([^0-9]|$)`));
  });

  it('gives responses their real status codes and schemas', () => {
    const devices = '/api/v1/devices';
    expect(schemaRef(openapi, devices, 'post', 201)).toBe('#/components/schemas/CreateDeviceResponseDto');
    expect(schemaRef(openapi, devices, 'post', 409)).toBe('#/components/schemas/ApiErrorDto');
    expect(openapi.paths[devices].post.responses['200']).toBeUndefined();
    expect(schemaRef(openapi, devices, 'get', 200)).toBe('#/components/schemas/DeviceListResponseDto');
    expect(schemaRef(openapi, `${devices}/{id}`, 'get', 200)).toBe('#/components/schemas/DeviceViewDto');
    for (const status of [400, 401, 404]) {
      expect(schemaRef(openapi, `${devices}/{id}`, 'get', status)).toBe('#/components/schemas/ApiErrorDto');
    }
    expect(Object.keys(openapi.paths[`${devices}/{id}`].delete.responses)).toEqual(['204', '400', '401', '403', '404']);
    const commands = `${devices}/{id}/commands`;
    expect(schemaRef(openapi, commands, 'post', 202)).toBe('#/components/schemas/CommandAcceptedDto');
    expect(schemaRef(openapi, commands, 'post', 200)).toBe('#/components/schemas/CommandViewDto');
    expect(openapi.paths[commands].post.responses['201']).toBeUndefined();
    expect(schemaRef(openapi, '/api/v1/users', 'post', 403)).toBe('#/components/schemas/ApiErrorDto');
    // Every route documents what it answers, and every 4xx carries the error body.
    for (const [path, methods] of Object.entries(openapi.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const statuses = Object.keys(operation.responses);
        expect({ route: `${method} ${path}`, ok: statuses.some((s) => /^2/.test(s)) }).toEqual({
          route: `${method} ${path}`,
          ok: true,
        });
        for (const status of statuses.filter((s) => /^[45]/.test(s))) {
          expect(schemaRef(openapi, path, method, Number(status))).toBe('#/components/schemas/ApiErrorDto');
        }
      }
    }
  });

  it('documents the shapes the api really answers with, for every JSON answer of every route', async () => {
    // The DTO classes of the document, by component name: each carries the protocol schema it was made from.
    const schemas = new Map<string, z.ZodType>();
    for (const [name, value] of Object.entries(responses)) {
      const schema = (value as { schema?: unknown }).schema;
      if (schema instanceof z.ZodType) schemas.set(name, schema);
    }
    const checked = new Set<string>();
    /** Calls the api, then checks the answer's status is documented and the body fits the documented schema. */
    async function call(
      method: string,
      route: string,
      params: Record<string, string>,
      body?: unknown,
      query = '',
      token = app.adminToken,
    ): Promise<{ status: number; body: unknown }> {
      // The probes are outside the API's base path.
      const docPath = /^\/(healthz|readyz)$/.test(route) ? route : `/api/v1${route}`;
      const path = docPath.replace(/\{(\w+)\}/g, (_, key: string) => encodeURIComponent(params[key]));
      const answer = await fetch(`${app.url}${path}${query}`, {
        method: method.toUpperCase(),
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await answer.text();
      const res = { status: answer.status, body: text ? (JSON.parse(text) as unknown) : undefined };
      const documented = openapi.paths[docPath]?.[method]?.responses[String(res.status)];
      expect({ route: `${method} ${route}${query}`, status: res.status, documented: documented !== undefined }).toEqual(
        {
          route: `${method} ${route}${query}`,
          status: res.status,
          documented: true,
        },
      );
      const schema = documented?.content?.['application/json']?.schema;
      if (schema === undefined) {
        expect(res.body).toBeUndefined();
      } else {
        const ref = schema.type === 'array' ? schema.items?.$ref : schema.$ref;
        const zod = schemas.get(ref?.replace('#/components/schemas/', '') ?? '');
        expect({ ref, known: zod !== undefined }).toEqual({ ref, known: true });
        const strict = zod instanceof z.ZodObject ? zod.strict() : zod;
        const parsed = (schema.type === 'array' ? z.array(strict as z.ZodType) : (strict as z.ZodType)).safeParse(
          res.body,
        );
        expect({ route: `${method} ${route} ${res.status}`, error: parsed.error?.issues }).toEqual({
          route: `${method} ${route} ${res.status}`,
          error: undefined,
        });
      }
      checked.add(`${method} ${docPath} ${res.status}`);
      return res;
    }

    const device = { id: 'docs-1' };
    const command = { commandId: '' };
    const user = { username: 'docs-user' };
    const login = await call('post', '/auth/login', {}, ADMIN);
    expect(login.status).toBe(200);
    const session = login.body as LoginResponse;
    expect((await call('get', '/auth/me', {})).status).toBe(200);
    expect((await call('post', '/auth/logout', {}, undefined, '', session.accessToken)).status).toBe(204);
    expect((await call('post', '/users', {}, { ...user, password: 'docs-password-1', role: 'viewer' })).status).toBe(
      201,
    );
    expect((await call('get', '/users', {})).status).toBe(200);
    expect((await call('patch', '/users/{username}', user, { role: 'operator' })).status).toBe(200);
    expect((await call('delete', '/users/{username}', user)).status).toBe(204);

    expect((await call('post', '/devices', {}, { ...device, name: 'Docs' })).status).toBe(201);
    expect((await call('post', '/devices', {}, { ...device, name: 'Docs' })).status).toBe(409);
    expect((await call('get', '/devices', {})).status).toBe(200);
    expect((await call('get', '/devices/{id}', device)).status).toBe(200);
    expect((await call('get', '/devices/{id}', { id: 'no-such' })).status).toBe(404);
    expect((await call('patch', '/devices/{id}', device, { labels: { floor: '2' } })).status).toBe(200);
    expect((await call('post', '/devices/{id}/credentials', device)).status).toBe(201);
    expect((await call('get', '/broker', {})).status).toBe(200);
    // Without MQTT_DYNSEC; its 200 is checked against the schema with a real broker (mosquitto-dynsec.e2e.spec.ts).
    expect((await call('post', '/broker/sync', {})).status).toBe(409);
    checked.add('post /api/v1/broker/sync 200');
    expect((await call('get', '/devices/{id}/telemetry/latest', device)).status).toBe(200);
    expect((await call('get', '/devices/{id}/telemetry', device)).status).toBe(200);
    expect((await call('get', '/devices/{id}/telemetry', device, undefined, '?bucket=1m&agg=max')).status).toBe(200);

    // The device is offline: a command waits for it, so it can be cancelled, or with no time to live expires at once.
    const sent = await call('post', '/devices/{id}/commands', device, { name: 'reboot' });
    expect(sent.status).toBe(202);
    command.commandId = (sent.body as CommandAccepted).commandId;
    const waited = await call('post', '/devices/{id}/commands', device, { name: 'reboot', ttlMs: 0 }, '?wait=true');
    expect(waited).toMatchObject({ status: 200, body: { status: 'expired' } });
    expect((await call('post', '/commands/{commandId}/cancel', command)).status).toBe(200);
    expect((await call('post', '/commands/{commandId}/cancel', command)).status).toBe(409);
    expect((await call('get', '/commands/{commandId}', command)).status).toBe(200);
    expect((await call('get', '/devices/{id}/commands', device, undefined, '?limit=1')).status).toBe(200);

    const model = { id: 'docs.model', version: 1, commands: { reboot: {} } };
    expect((await call('post', '/models', {}, model)).status).toBe(201);
    expect((await call('post', '/models', {}, model)).status).toBe(200);
    expect((await call('get', '/models', {})).status).toBe(200);
    expect((await call('get', '/models/schema.json', {})).status).toBe(200);
    expect((await call('get', '/models/{id}/versions', { id: 'docs.model' })).status).toBe(200);
    expect((await call('get', '/models/{id}/versions/{version}', { id: 'docs.model', version: '1' })).status).toBe(200);
    expect((await call('put', '/devices/{id}/model', device, { model: { id: 'docs.model', version: 1 } })).status).toBe(200);
    expect((await call('get', '/devices/{id}/model', device)).status).toBe(200);

    expect((await call('patch', '/devices/{id}/state/desired', device, { mode: 'eco' })).status).toBe(200);
    expect((await call('get', '/audit', {}, undefined, '?limit=5')).status).toBe(200);
    const bulk = await call('post', '/commands/bulk', {}, { devices: [device.id], name: 'reboot' });
    expect(bulk.status).toBe(201);
    expect((await call('get', '/commands/bulk/{bulkId}', { bulkId: (bulk.body as { bulkId: string }).bulkId })).status).toBe(200);
    const patched = await call('post', '/state/bulk', {}, { devices: [device.id], desired: { mode: 'away' } });
    expect(patched.status).toBe(201);
    expect((await call('get', '/state/bulk/{bulkId}', { bulkId: (patched.body as { bulkId: string }).bulkId })).status).toBe(
      200,
    );
    expect((await call('get', '/devices/{id}/state', device)).status).toBe(200);
    const created = await call('post', '/webhooks', {}, { name: 'docs', url: 'http://127.0.0.1:9/hook' });
    expect(created.status).toBe(201);
    const webhook = { id: (created.body as { id: string }).id };
    expect((await call('get', '/webhooks', {})).status).toBe(200);
    expect((await call('get', '/webhooks/{id}', webhook)).status).toBe(200);
    expect((await call('put', '/webhooks/{id}', webhook, { name: 'docs', url: 'http://127.0.0.1:9/x' })).status).toBe(
      200,
    );
    expect((await call('post', '/webhooks/{id}/rotate-secret', webhook)).status).toBe(200);
    expect((await call('get', '/webhooks/{id}/deliveries', webhook, undefined, '?limit=5')).status).toBe(200);
    expect((await call('post', '/webhooks/{id}/test', webhook)).status).toBe(200);
    expect((await call('delete', '/webhooks/{id}', webhook)).status).toBe(204);

    // The device never connected: an offline rule of a millisecond raises at once.
    const offline = { name: 'docs', severity: 'minor', target: device.id, condition: { kind: 'offline', forMs: 1 } };
    const rule = await call('post', '/alarm-rules', {}, { ...offline, target: { deviceId: device.id } });
    expect(rule.status).toBe(201);
    const ruleId = { id: (rule.body as { id: string }).id };
    expect((await call('get', '/alarm-rules', {})).status).toBe(200);
    expect((await call('get', '/alarm-rules/{id}', ruleId)).status).toBe(200);
    expect((await call('put', '/alarm-rules/{id}', ruleId, { ...offline, target: { modelId: 'docs.model' } })).status).toBe(200);
    let alarms: { items: Array<{ id: string }> } = { items: [] };
    for (let tries = 0; alarms.items.length === 0 && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      alarms = (await call('get', '/alarms', {}, undefined, '?active=true')).body as typeof alarms;
    }
    const alarm = { id: alarms.items[0].id };
    expect((await call('get', '/alarms/{id}', alarm)).status).toBe(200);
    expect((await call('post', '/alarms/{id}/acknowledge', alarm, { note: 'seen' })).status).toBe(200);
    expect((await call('post', '/alarms/{id}/acknowledge', alarm, {})).status).toBe(409);
    expect((await call('post', '/alarms/{id}/clear', alarm, {})).status).toBe(200);
    expect((await call('delete', '/alarm-rules/{id}', ruleId)).status).toBe(204);
    expect((await call('delete', '/devices/{id}', device)).status).toBe(204);
    expect((await call('get', '/healthz', {})).status).toBe(200);
    expect((await call('get', '/readyz', {})).status).toBe(200);

    // Every documented JSON success was answered for real above.
    const documented = Object.entries(openapi.paths).flatMap(([path, methods]) =>
      Object.entries(methods).flatMap(([method, operation]) =>
        Object.entries(operation.responses)
          .filter(([status, response]) => /^2/.test(status) && response.content?.['application/json'] !== undefined)
          .map(([status]) => `${method} ${path} ${status}`),
      ),
    );
    expect(documented.filter((answer) => !checked.has(answer))).toEqual([]);
    expect(
      apiErrorSchema.strict().safeParse((await api(app, undefined, 'GET', '/auth/me')).body).error,
    ).toBeUndefined();
  });
});
