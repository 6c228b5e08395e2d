import type { DeviceRecord } from '../src/domain/devices';
import { PgDatabase } from '../src/storage/postgres/pg-database';
import { SqliteDatabase } from '../src/storage/sqlite-database';
import { postgresMissing, startPostgres, type TestPostgres } from './postgres';

export type EngineName = 'SQLite' | 'PostgreSQL';
export type AnyStore = SqliteDatabase | PgDatabase;

/** The engines a repository contract runs on: PostgreSQL only where it can run here (else the reason is printed). */
export function engines(): EngineName[] {
  const missing = postgresMissing();
  if (missing === undefined) return ['SQLite', 'PostgreSQL'];
  console.warn(`PostgreSQL half skipped: ${missing}`);
  return ['SQLite'];
}

/**
 * Opens a fresh, empty store of `engine` per test: SQLite in memory, or a
 * new database on one PostgreSQL cluster per test file. Call inside a describe.
 */
export function freshStore(engine: EngineName): () => Promise<AnyStore> {
  let cluster: TestPostgres | undefined;
  let databases = 0;
  const open: AnyStore[] = [];
  if (engine === 'PostgreSQL') {
    beforeAll(async () => {
      cluster = await startPostgres();
    }, 60_000);
    afterAll(() => cluster?.stop());
  }
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
  });
  return async () => {
    const store =
      engine === 'SQLite'
        ? await SqliteDatabase.open(':memory:')
        : await PgDatabase.open(cluster!.createDatabase(`t${++databases}`), { poolSize: 4 });
    open.push(store);
    return store;
  };
}

export function device(id: string, overrides: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    id,
    name: id,
    type: null,
    labels: {},
    online: false,
    lastSeen: null,
    createdAt: 1,
    updatedAt: 1,
    ...overrides,
  };
}
