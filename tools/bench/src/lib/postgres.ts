import { readFileSync } from 'node:fs';
import pg from 'pg';
import { descendants } from './proc';

/** The bench creates and drops databases: it only ever talks to a server on this machine. */
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const CONNECT_TIMEOUT_MS = 5_000;
/** CREATE and DROP DATABASE of an empty benchmark database take well under this. */
const QUERY_TIMEOUT_MS = 60_000;

/** Checks a `--database-url`: postgres:// on loopback, naming the database to connect to for CREATE DATABASE. */
export function checkDatabaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--database-url is not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new Error('--database-url needs a postgres:// URL');
  if (!LOOPBACK.has(url.hostname))
    throw new Error('--database-url must point at 127.0.0.1 (the bench drops databases)');
  return url.toString();
}

let made = 0;

/**
 * A database of its own for one scenario on the server of `--database-url`,
 * created empty and dropped afterwards, and the server's processes for the
 * CPU split (read from /proc: the server runs on this machine).
 */
export class BenchDatabase {
  private constructor(
    private readonly adminUrl: string,
    readonly name: string,
    readonly url: string,
    /** The server's postmaster, or undefined when /proc does not show it. */
    private readonly postmaster: number | undefined,
  ) {}

  static async create(adminUrl: string): Promise<BenchDatabase> {
    const name = `iot_bench_${process.pid}_${++made}`;
    const { postmaster } = await withClient(adminUrl, async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${name}`);
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      return { postmaster: parentOf(rows[0].pid) };
    });
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return new BenchDatabase(adminUrl, name, url.toString(), postmaster);
  }

  /** The server's processes now: the postmaster and every backend and helper under it. */
  pids(): number[] {
    return this.postmaster === undefined ? [] : [this.postmaster, ...descendants(this.postmaster)];
  }

  async drop(): Promise<void> {
    await withClient(this.adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`));
  }
}

async function withClient<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
  });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}
