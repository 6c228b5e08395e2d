import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { cleanupOpenApiDoc } from 'nestjs-zod';

/** The OpenAPI document of the HTTP API, as served at /api/docs-json. It names no host or port. */
export function openApiDocument(app: INestApplication): OpenAPIObject {
  const document = new DocumentBuilder()
    .setTitle('IoT platform API')
    .setDescription(
      'Devices, telemetry and the live event stream. MQTT topics, the SSE events and the WebSocket frames are in the ' +
        'AsyncAPI document at /api/asyncapi.json; docs/protocol.md is the prose contract.',
    )
    .setVersion('1')
    // 3.1: nullable fields are written as JSON Schema type lists, which 3.0 does not allow.
    .setOpenAPIVersion('3.1.0')
    .addBearerAuth()
    .addCookieAuth('iot_session')
    .build();
  return cleanupOpenApiDoc(SwaggerModule.createDocument(app, document));
}

/** Where the generated documents are committed, relative to the workspace root. */
export const API_DOCUMENT_FILES = { openapi: 'docs/openapi.json', asyncapi: 'docs/asyncapi.json' } as const;

/** How a document is written to its file: two-space JSON and a final newline. */
export function serializeDocument(document: object): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
