import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiRequestError, type PlatformApi } from './platform-api';

/** A platform user to log in as, and where its password came from. */
export interface AdminCredentials {
  username: string;
  password: string;
  /** For messages: `--password`, `$SIM_PASSWORD`, a file path, … */
  source: string;
}

/** The file the api writes the generated first admin password to, under DATA_DIR, while it is true. */
export const INITIAL_PASSWORD_FILE = 'initial-admin-password';
/** The simulator's own login, under DATA_DIR (JSON `{username, password}`, mode 0600). */
export const OWN_CREDENTIALS_FILE = 'simulator-credentials';
/** Each simulated device's secret, under DATA_DIR (JSON `{deviceId: secret}`, mode 0600). */
export const DEVICE_SECRETS_FILE = 'simulator-devices.json';
/** The user the simulator makes for itself: admin, because registering devices and rotating secrets needs it. */
export const SIMULATOR_USERNAME = 'simulator';

type ReadFile = (path: string) => string;
const readText: ReadFile = (path) => readFileSync(path, 'utf8');

/** `${DATA_DIR:-data}`, where the api and the simulator keep their files. */
export function dataDirOf(env: NodeJS.ProcessEnv): string {
  return nonEmpty(env['DATA_DIR']) ?? 'data';
}

/**
 * Credentials given outright: `--password` or `SIM_PASSWORD` (with `--username`,
 * `SIM_USERNAME`, `ADMIN_USERNAME` or `admin`). The simulator logs in with them
 * as they are; without them it uses its own user (see {@link logInAsSimulator}).
 */
export function givenCredentials(
  flags: { username?: string; password?: string },
  env: NodeJS.ProcessEnv,
): AdminCredentials | undefined {
  const username =
    nonEmpty(flags.username) ?? nonEmpty(env['SIM_USERNAME']) ?? nonEmpty(env['ADMIN_USERNAME']) ?? 'admin';
  const given: Array<[string, string | undefined]> = [
    ['--password', flags.password],
    ['$SIM_PASSWORD', env['SIM_PASSWORD']],
  ];
  for (const [source, value] of given) {
    const password = nonEmpty(value);
    if (password !== undefined) return { username, password, source };
  }
  return undefined;
}

/**
 * The admin the simulator may log in as once, to make its own user:
 * `ADMIN_USERNAME`/`ADMIN_PASSWORD` (what the api was started with), else the
 * generated password in `${DATA_DIR}/initial-admin-password` while the api keeps it there.
 */
export function firstAdminCredentials(
  env: NodeJS.ProcessEnv,
  readFile: ReadFile = readText,
): AdminCredentials | undefined {
  const username = nonEmpty(env['ADMIN_USERNAME']) ?? 'admin';
  const password = nonEmpty(env['ADMIN_PASSWORD']);
  if (password !== undefined) return { username, password, source: '$ADMIN_PASSWORD' };
  const file = join(dataDirOf(env), INITIAL_PASSWORD_FILE);
  let generated: string | undefined;
  try {
    generated = nonEmpty(readFile(file).trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot read the admin password from ${file}: ${(error as Error).message}`);
    }
  }
  return generated === undefined ? undefined : { username, password: generated, source: file };
}

/** The simulator's files under DATA_DIR: its own login and its devices' secrets, each mode 0600. */
export class SimulatorFiles {
  readonly credentialsPath: string;
  readonly secretsPath: string;

  constructor(readonly dataDir: string) {
    this.credentialsPath = join(dataDir, OWN_CREDENTIALS_FILE);
    this.secretsPath = join(dataDir, DEVICE_SECRETS_FILE);
  }

  readOwnCredentials(): { username: string; password: string } | undefined {
    const json = this.readJson(this.credentialsPath) as { username?: unknown; password?: unknown } | undefined;
    if (typeof json?.username !== 'string' || typeof json.password !== 'string') return undefined;
    return { username: json.username, password: json.password };
  }

  writeOwnCredentials(credentials: { username: string; password: string }): void {
    this.writeJson(this.credentialsPath, credentials);
  }

  /** Device id → secret; own keys only, so a hostile file cannot reach the prototype. */
  readDeviceSecrets(): Map<string, string> {
    const json = this.readJson(this.secretsPath);
    const secrets = new Map<string, string>();
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return secrets;
    for (const [id, secret] of Object.entries(json)) if (typeof secret === 'string') secrets.set(id, secret);
    return secrets;
  }

  writeDeviceSecrets(secrets: ReadonlyMap<string, string>): void {
    this.writeJson(this.secretsPath, Object.fromEntries(secrets));
  }

  private readJson(path: string): unknown {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`cannot read ${path}: ${(error as Error).message}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined; // a damaged file is as good as none: what it held is made anew
    }
  }

  /** Written whole to a temporary file and renamed, so a crash leaves the old file or the new one. */
  private writeJson(path: string, value: unknown): void {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(value, null, 1) + '\n', { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, path);
  }
}

/**
 * Logs `api` in as the simulator's own user, kept in `files`: made on first use
 * (an admin with a generated password of 24 characters) by logging in once as
 * `firstAdmin`, and made anew the same way if the platform refuses the stored
 * login (a new database). The first admin's password is used only for that.
 */
export async function logInAsSimulator(
  api: PlatformApi,
  files: SimulatorFiles,
  firstAdmin: AdminCredentials | undefined,
  log: (line: string) => void,
): Promise<string> {
  const own = files.readOwnCredentials();
  if (own !== undefined) {
    try {
      await api.login(own.username, own.password);
      return own.username;
    } catch (error) {
      if (!(error instanceof ApiRequestError && error.status === 401) || firstAdmin === undefined) throw error;
      log(`simulator: the platform refused the login in ${files.credentialsPath}; making it anew`);
    }
  }
  if (firstAdmin === undefined) {
    throw new Error(
      `no credentials: ${files.credentialsPath} does not exist yet, and there is no admin password to make it with ` +
        `(set ADMIN_PASSWORD, or pass --username and --password of an admin)`,
    );
  }
  await api.login(firstAdmin.username, firstAdmin.password);
  const password = randomBytes(18).toString('base64url');
  const outcome = await api.setUser(SIMULATOR_USERNAME, password, 'admin');
  files.writeOwnCredentials({ username: SIMULATOR_USERNAME, password });
  await api.logout();
  await api.login(SIMULATOR_USERNAME, password);
  log(
    `simulator: ${outcome} its own user "${SIMULATOR_USERNAME}" (admin) with ${firstAdmin.username}'s login; ` +
      `its password is in ${files.credentialsPath}`,
  );
  return SIMULATOR_USERNAME;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
