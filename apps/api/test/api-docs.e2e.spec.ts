import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  apiErrorSchema,
  asyncApiDocument,
  commandAcceptedSchema,
  createDeviceResponseSchema,
  deviceViewSchema,
} from '@iot/protocol';
import { API_DOCUMENT_FILES, serializeDocument } from '../src/edges/http/docs/openapi';
import { type TestApp, api, startApp } from './harness';

const REGENERATE = 'npm run docs:api';

interface Operation {
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
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

  it('documents the shapes the api really answers with', async () => {
    const created = await api(app, app.adminToken, 'POST', '/devices', { id: 'docs-1', name: 'Docs' });
    expect(created.status).toBe(201);
    expect(createDeviceResponseSchema.strict().safeParse(created.body).error).toBeUndefined();
    const one = await api(app, app.adminToken, 'GET', '/devices/docs-1');
    expect(deviceViewSchema.strict().safeParse(one.body).error).toBeUndefined();
    const sent = await api(app, app.adminToken, 'POST', '/devices/docs-1/commands', { name: 'reboot' });
    expect(sent.status).toBe(202);
    expect(commandAcceptedSchema.strict().safeParse(sent.body).error).toBeUndefined();
    const conflict = await api(app, app.adminToken, 'POST', '/devices', { id: 'docs-1', name: 'Docs' });
    expect(conflict.status).toBe(409);
    expect(apiErrorSchema.strict().safeParse(conflict.body).error).toBeUndefined();
  });
});
