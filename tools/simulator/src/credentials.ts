import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The platform user the simulator logs in as, and where its password came from. */
export interface AdminCredentials {
  username: string;
  password: string;
  /** For messages: `--password`, `$SIM_PASSWORD`, a file path, … */
  source: string;
}

/** The file the api writes the generated development admin password to, under DATA_DIR. */
export const INITIAL_PASSWORD_FILE = 'initial-admin-password';

/**
 * Picks the credentials: flags first, then `SIM_USERNAME`/`SIM_PASSWORD`, then
 * `ADMIN_USERNAME`/`ADMIN_PASSWORD` (what the api was started with), and for the
 * password finally `${DATA_DIR:-data}/initial-admin-password`. The username defaults to `admin`.
 */
export function resolveAdminCredentials(
  flags: { username?: string; password?: string },
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): AdminCredentials {
  const username =
    nonEmpty(flags.username) ?? nonEmpty(env['SIM_USERNAME']) ?? nonEmpty(env['ADMIN_USERNAME']) ?? 'admin';
  const given: Array<[string, string | undefined]> = [
    ['--password', flags.password],
    ['$SIM_PASSWORD', env['SIM_PASSWORD']],
    ['$ADMIN_PASSWORD', env['ADMIN_PASSWORD']],
  ];
  for (const [source, value] of given) {
    const password = nonEmpty(value);
    if (password !== undefined) return { username, password, source };
  }
  const file = join(nonEmpty(env['DATA_DIR']) ?? 'data', INITIAL_PASSWORD_FILE);
  let password: string | undefined;
  try {
    password = nonEmpty(readFile(file).trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot read the admin password from ${file}: ${(error as Error).message}`);
    }
  }
  if (password === undefined) {
    throw new Error(
      `no admin password: pass --password, set SIM_PASSWORD, or start the api in development mode so that it writes ${file}`,
    );
  }
  return { username, password, source: file };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
