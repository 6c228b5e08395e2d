import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { openSqlite } from './sqlite-connection';
import type { WriterData } from './sqlite-thread-messages';

describe('a SQLite thread', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'iot-thread-'));
    openSqlite(join(dir, 'iot.db')).close();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads no module of Nest: each thread is an isolate, and Nest would cost each about 15 MiB', async () => {
    const workerData: WriterData = { path: join(dir, 'iot.db'), role: 'checkpointer', restartWalPages: 1000 };
    // The thread's own file, from source, then the list of every module it loaded.
    const script = `
      require(${JSON.stringify(join(__dirname, 'sqlite-writer.worker.ts'))});
      require('node:worker_threads').parentPort.postMessage({ modules: Object.keys(require.cache) });`;
    const worker = new Worker(script, {
      eval: true,
      workerData,
      execArgv: ['--require', '@swc-node/register'],
      env: { ...process.env, SWC_NODE_PROJECT: join(__dirname, '../../tsconfig.app.json') },
    });
    try {
      const modules = await new Promise<string[]>((resolve, reject) => {
        worker.on('message', (message: { modules?: string[] }) => message.modules && resolve(message.modules));
        worker.on('error', reject);
      });
      expect(modules.some((path) => path.includes('sqlite-writer.worker'))).toBe(true);
      expect(modules.filter((path) => /[\\/]@nestjs[\\/]/.test(path))).toEqual([]);
    } finally {
      await worker.terminate();
    }
  });
});
