/**
 * Writes docs/openapi.json and docs/asyncapi.json from the code: starts the
 * api on free ports with a throwaway DATA_DIR, reads the documents it serves,
 * and stops it.
 *
 *   npm run docs:api
 *
 * apps/api/test/api-docs.e2e.spec.ts fails when the committed files differ.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createApp } from '../../apps/api/src/app/create-app';
import { loadConfig } from '../../apps/api/src/platform/config/config';
import { API_DOCUMENT_FILES, serializeDocument } from '../../apps/api/src/edges/http/docs/openapi';

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'iot-api-docs-'));
  // Only these variables: the documents must not depend on the environment of whoever runs this.
  const config = loadConfig({
    PORT: '0',
    MQTT_PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    ADMIN_PASSWORD: randomBytes(18).toString('base64url'),
    LOG_LEVEL: 'error',
  });
  const app = await createApp(config);
  try {
    const documents = {
      [API_DOCUMENT_FILES.openapi]: `${app.url}/api/docs-json`,
      [API_DOCUMENT_FILES.asyncapi]: `${app.url}/api/asyncapi.json`,
    };
    for (const [file, url] of Object.entries(documents)) {
      const res = await fetch(url);
      if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
      writeFileSync(resolve(file), serializeDocument((await res.json()) as object));
      console.log(`wrote ${file}`);
    }
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
