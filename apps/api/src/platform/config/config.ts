import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { LIMITS, PASSWORD_MIN_LENGTH, parseDuration, usernameSchema } from '@iot/protocol';

/** Everything the api reads from its environment, parsed once at boot. */
export interface AppConfig {
  production: boolean;
  host: string;
  port: number;
  /** External broker URL; undefined runs the embedded broker. */
  mqttUrl: string | undefined;
  mqttPort: number;
  /** Where devices reach the broker, as `GET /broker` tells consoles (MQTT_PUBLIC_URL); else worked out. */
  mqttPublicUrl: string | undefined;
  /** Username/password the api uses on an external broker. */
  mqttUsername: string | undefined;
  mqttPassword: string | undefined;
  /** The api's MQTT client id on an external broker (MQTT_CLIENT_ID): stable per replica so a restart resumes its session. */
  mqttClientId: string | undefined;
  /** The shared-subscription group replicas take device messages in (MQTT_SHARE_GROUP); undefined: plain subscriptions. */
  mqttShareGroup: string | undefined;
  /** Keep device credentials and ACLs in Mosquitto's dynamic-security plugin (MQTT_DYNSEC; needs MQTT_URL). */
  mqttDynsec: boolean;
  /** How long a dynamic-security command may wait for the broker's answer (MQTT_DYNSEC_TIMEOUT_SECONDS). */
  mqttDynsecTimeoutMs: number;
  /** The shared secret EMQX sends to the HTTP auth endpoints (EMQX_AUTH_SECRET); undefined turns them off. */
  emqxAuthSecret: string | undefined;
  dataDir: string;
  databaseUrl: string | undefined;
  /** Connections to PostgreSQL the api may hold (DATABASE_POOL_SIZE). */
  databasePoolSize: number;
  /** How long a start waits for PostgreSQL to become reachable (DATABASE_CONNECT_TIMEOUT_SECONDS); 0 tries once. */
  databaseConnectTimeoutMs: number;
  adminUsername: string;
  adminPassword: string | undefined;
  jwtSecret: string;
  jwtTtlSeconds: number;
  allowedOrigins: string[];
  /** Proxies whose X-Forwarded-For/-Proto the api believes (TRUST_PROXY), as Express's `trust proxy` takes them. */
  trustProxy: string[];
  /** Where the built console lives; served at `/` when it exists. */
  consoleDir: string | undefined;
  maxPayloadBytes: number;
  maxBatchEntries: number;
  /** Distinct telemetry keys a device may have (TELEMETRY_MAX_KEYS_PER_DEVICE). */
  maxKeysPerDevice: number;
  /** Events kept for `Last-Event-ID` resume. */
  eventRetentionMs: number;
  /** Raw telemetry kept (TELEMETRY_RETENTION); 0 keeps it forever. */
  telemetryRetentionMs: number;
  /** Per-minute and per-hour rollups kept (ROLLUP_RETENTION); 0 keeps them forever. */
  rollupRetentionMs: number;
  /** Bytes queued on an SSE socket past which the client is dropped. */
  sseMaxQueuedBytes: number;
  /** WebSocket requests a user may make per second on average (all their sockets together), and in a burst. */
  wsRatePerSecond: number;
  wsRateBurst: number;
  /** WebSockets one user may hold open; the next upgrade is refused with 429. */
  wsMaxSocketsPerUser: number;
  /** Wrong-secret CONNECTs per client id in a minute before it is blocked (ten times that per address). */
  mqttAuthMaxFailures: number;
  /** How long a client id or address past its allowance is refused without a secret check. */
  mqttAuthBlockMs: number;
  /** Open SSE streams one user may have (SSE_MAX_STREAMS_PER_USER). */
  sseMaxStreamsPerUser: number;
  /** Open SSE streams in all (SSE_MAX_STREAMS). */
  sseMaxStreams: number;
  /** How long audit entries are kept, days (AUDIT_RETENTION_DAYS). */
  auditRetentionDays: number;
  /** How long a webhook receiver has to answer, ms (WEBHOOK_TIMEOUT_MS). */
  webhookTimeoutMs: number;
  /** The first retry delay of a webhook delivery, ms (WEBHOOK_RETRY_BASE_MS); later ones grow from it. */
  webhookRetryBaseMs: number;
  /** Largest reported or desired state document, as JSON bytes (STATE_MAX_BYTES). */
  stateMaxBytes: number;
  /**
   * `small` (the default: a laptop or a small VM) or `throughput` (MEMORY_PROFILE): 64 MiB SQLite page caches and
   * no cap on old-generation growth, for about 150 MiB more at high message rates (docs/performance.md, "Memory").
   */
  memoryProfile: 'small' | 'throughput';
  logLevel: 'error' | 'warn' | 'log' | 'debug';
  /** `pretty` (human-readable, the default) or `json` (one JSON object a line) (LOG_FORMAT). */
  logFormat: 'pretty' | 'json';
  /** Consecutive failed logins of a username from one address before that address is refused it (LOGIN_MAX_FAILURES). */
  loginMaxFailures: number;
  /** Failed logins from one address in a day before it is refused (LOGIN_MAX_FAILURES_PER_ADDRESS). */
  loginMaxFailuresPerAddress: number;
  /** Failed logins of a username in a minute from anywhere before tries wait (LOGIN_MAX_FAILURES_PER_USER). */
  loginMaxFailuresPerUser: number;
  /** Live sessions a user may hold; a new login ends the oldest past it (MAX_SESSIONS_PER_USER). */
  maxSessionsPerUser: number;
  /** What loadConfig had to change to start: logged once the logger is up. */
  warnings: string[];
}

export const APP_CONFIG = Symbol('APP_CONFIG');

const DEFAULT_SECRETS = new Set(['', 'secret', 'changeme', 'change-me', 'admin', 'password']);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

function int(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  problems: string[],
  min = 0,
  max = 2 ** 31,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return fallback;
  }
  return n;
}

/** A retention: `0` (keep forever), whole days (`30`), or a duration of at least an hour (`36h`, `90d`). */
function retention(env: NodeJS.ProcessEnv, name: string, problems: string[]): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '' || raw === '0') return 0;
  const ms = /^[1-9][0-9]{0,5}$/.test(raw) ? Number(raw) * 86_400_000 : parseDuration(raw);
  if (ms === undefined || ms < 3_600_000) {
    problems.push(
      `${name} must be 0 (keep forever), a number of days, or a duration such as 36h or 90d (at least 1h), got ${JSON.stringify(raw)}`,
    );
    return 0;
  }
  return ms;
}

/** Reads a secret kept in DATA_DIR, making it on first use (development only). */
function persistentSecret(dataDir: string, file: string): string {
  const path = join(dataDir, file);
  if (existsSync(path)) {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return readFileSync(path, 'utf8').trim();
  }
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, secret + '\n', { mode: 0o600 });
  return secret;
}

/** An MQTT broker URL as MQTT.js takes it. */
function isBrokerUrl(text: string): boolean {
  if (!/^(mqtts?|wss?|tcp):\/\/[^/]/.test(text)) return false;
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

/** Express's names for address ranges, or an IP address with an optional prefix length. */
function isProxyAddress(text: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(text)) return true;
  const [address, prefix, ...rest] = text.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

/** The file name of the SQLite database under DATA_DIR. */
export const SQLITE_FILE = 'iot.db';

/**
 * Parses the environment into a typed config. Fails listing every bad
 * variable at once, so one restart fixes them all.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const problems: string[] = [];
  const production = env['NODE_ENV'] === 'production';
  const port = int(env, 'PORT', 3000, problems, 0, 65535);
  const mqttPort = int(env, 'MQTT_PORT', 1883, problems, 0, 65535);
  const dataDir = resolve(env['DATA_DIR'] || 'data');
  const mqttUrl = env['MQTT_URL'] || undefined;
  const mqttPublicUrl = env['MQTT_PUBLIC_URL'] || undefined;
  for (const [name, url] of [
    ['MQTT_URL', mqttUrl],
    ['MQTT_PUBLIC_URL', mqttPublicUrl],
  ] as const) {
    if (url !== undefined && !isBrokerUrl(url)) {
      problems.push(`${name} must be an mqtt://, mqtts://, ws:// or wss:// URL, got ${JSON.stringify(url)}`);
    }
  }
  const databaseUrl = env['DATABASE_URL'] || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// URL');
  }
  const mqttClientId = env['MQTT_CLIENT_ID'] || undefined;
  if (mqttClientId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(mqttClientId)) {
    problems.push('MQTT_CLIENT_ID must be 1 to 64 letters, digits, dots, dashes or underscores');
  }
  const mqttShareGroup = env['MQTT_SHARE_GROUP'] || undefined;
  if (mqttShareGroup !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(mqttShareGroup)) {
    problems.push('MQTT_SHARE_GROUP must be 1 to 64 letters, digits, dashes or underscores');
  }
  const mqttDynsecText = env['MQTT_DYNSEC'] || 'false';
  if (mqttDynsecText !== 'true' && mqttDynsecText !== 'false') problems.push('MQTT_DYNSEC must be true or false');
  const mqttDynsec = mqttDynsecText === 'true';
  if (mqttDynsec && !mqttUrl) problems.push('MQTT_DYNSEC=true needs MQTT_URL (a Mosquitto with dynamic security)');
  const emqxAuthSecret = env['EMQX_AUTH_SECRET'] || undefined;
  if (emqxAuthSecret !== undefined && (emqxAuthSecret.length < 32 || emqxAuthSecret.length > 256)) {
    problems.push('EMQX_AUTH_SECRET must be a random string of 32 to 256 characters');
  }
  if (!mqttUrl && port !== 0 && port === mqttPort) {
    problems.push(`PORT and MQTT_PORT must differ (both are ${port})`);
  }
  const adminUsername = env['ADMIN_USERNAME'] || 'admin';
  if (!usernameSchema.safeParse(adminUsername).success) {
    problems.push(`ADMIN_USERNAME must be 1-64 letters, digits, or _ . @ -, starting with a letter or digit`);
  }
  const adminPassword = env['ADMIN_PASSWORD'] || undefined;
  let jwtSecret = env['JWT_SECRET'] ?? '';
  if (production) {
    if (DEFAULT_SECRETS.has(jwtSecret) || jwtSecret.length < 32) {
      problems.push('JWT_SECRET must be set to a random string of at least 32 characters in production');
    }
  }
  // In every mode: a development instance is often reachable from the network too.
  const weakAdminPassword = adminPassword !== undefined && adminPassword.length < PASSWORD_MIN_LENGTH;
  if (weakAdminPassword || (adminPassword !== undefined && DEFAULT_SECRETS.has(adminPassword))) {
    problems.push(`ADMIN_PASSWORD must not be a default and needs at least ${PASSWORD_MIN_LENGTH} characters`);
  } else if (adminPassword !== undefined && adminPassword.length > 256) {
    problems.push('ADMIN_PASSWORD may have at most 256 characters');
  }
  const origins = (env['ALLOWED_ORIGINS'] ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0);
  const trustProxy = (env['TRUST_PROXY'] || 'loopback')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  const untrusted = trustProxy.filter((p) => !isProxyAddress(p));
  if (untrusted.length > 0 || trustProxy.length === 0) {
    problems.push(
      `TRUST_PROXY must be a comma-separated list of loopback, linklocal, uniquelocal, IP addresses or CIDR ranges, got ${JSON.stringify(env['TRUST_PROXY'])}`,
    );
  }
  const telemetryRetentionMs = retention(env, 'TELEMETRY_RETENTION', problems);
  const rollupRetentionMs = retention(env, 'ROLLUP_RETENTION', problems);
  // Rollups answer for the history raw retention has removed, so they must not go first.
  if (rollupRetentionMs > 0 && (telemetryRetentionMs === 0 || rollupRetentionMs < telemetryRetentionMs)) {
    problems.push('ROLLUP_RETENTION must be 0 (keep forever) or at least TELEMETRY_RETENTION (which must then be set)');
  }
  const logLevel = (env['LOG_LEVEL'] ?? 'log') as AppConfig['logLevel'];
  if (!['error', 'warn', 'log', 'debug'].includes(logLevel))
    problems.push('LOG_LEVEL must be error, warn, log or debug');
  const memoryProfile = (env['MEMORY_PROFILE'] || 'small') as AppConfig['memoryProfile'];
  if (memoryProfile !== 'small' && memoryProfile !== 'throughput') {
    problems.push('MEMORY_PROFILE must be small or throughput');
  }
  const logFormat = (env['LOG_FORMAT'] || 'pretty') as AppConfig['logFormat'];
  if (logFormat !== 'pretty' && logFormat !== 'json') problems.push('LOG_FORMAT must be pretty or json');
  const config: AppConfig = {
    production,
    host: env['HOST'] || '0.0.0.0',
    port,
    mqttUrl,
    mqttPort,
    mqttPublicUrl,
    mqttUsername: env['MQTT_USERNAME'] || undefined,
    mqttPassword: env['MQTT_PASSWORD'] || undefined,
    mqttClientId,
    mqttShareGroup,
    mqttDynsec,
    mqttDynsecTimeoutMs: int(env, 'MQTT_DYNSEC_TIMEOUT_SECONDS', 10, problems, 1, 300) * 1000,
    emqxAuthSecret,
    dataDir,
    databaseUrl,
    databasePoolSize: int(env, 'DATABASE_POOL_SIZE', 10, problems, 1, 1000),
    databaseConnectTimeoutMs: int(env, 'DATABASE_CONNECT_TIMEOUT_SECONDS', 60, problems, 0, 3600) * 1000,
    adminUsername,
    adminPassword,
    jwtSecret,
    jwtTtlSeconds: int(env, 'JWT_TTL_SECONDS', 12 * 3600, problems, 60),
    allowedOrigins: origins,
    trustProxy,
    consoleDir: env['CONSOLE_DIR'] || undefined,
    maxPayloadBytes: int(env, 'MQTT_MAX_PAYLOAD_BYTES', LIMITS.maxPayloadBytes, problems, 1024, LIMITS.maxPacketBytes),
    maxBatchEntries: int(env, 'TELEMETRY_MAX_BATCH', LIMITS.maxBatchEntries, problems, 1, 100_000),
    maxKeysPerDevice: int(env, 'TELEMETRY_MAX_KEYS_PER_DEVICE', LIMITS.maxKeysPerDevice, problems, 1, 100_000),
    eventRetentionMs: int(env, 'EVENT_RETENTION_HOURS', 24, problems, 1, 24 * 365) * 3600_000,
    auditRetentionDays: int(env, 'AUDIT_RETENTION_DAYS', 365, problems, 1, 36_500),
    webhookTimeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 10_000, problems, 100, 60_000),
    webhookRetryBaseMs: int(env, 'WEBHOOK_RETRY_BASE_MS', 10_000, problems, 10, 3_600_000),
    telemetryRetentionMs,
    rollupRetentionMs,
    sseMaxQueuedBytes: int(env, 'SSE_MAX_QUEUED_BYTES', 4 * 1024 * 1024, problems, 64 * 1024),
    wsRatePerSecond: int(env, 'WS_RATE_PER_SECOND', 20, problems, 1, 1_000_000),
    wsRateBurst: int(env, 'WS_RATE_BURST', 40, problems, 1, 1_000_000),
    wsMaxSocketsPerUser: int(env, 'WS_MAX_SOCKETS_PER_USER', 20, problems, 1, 10_000),
    mqttAuthMaxFailures: int(env, 'MQTT_AUTH_MAX_FAILURES', 5, problems, 1, 1000),
    mqttAuthBlockMs: int(env, 'MQTT_AUTH_BLOCK_SECONDS', 60, problems, 1, 86_400) * 1000,
    sseMaxStreamsPerUser: int(env, 'SSE_MAX_STREAMS_PER_USER', 20, problems, 1, 1_000_000),
    sseMaxStreams: int(env, 'SSE_MAX_STREAMS', 10_000, problems, 1, 1_000_000),
    // A desired document goes to its device as one MQTT packet (at most 1 MiB), so half that at most.
    stateMaxBytes: int(env, 'STATE_MAX_BYTES', LIMITS.maxStateBytes, problems, 1024, 512 * 1024),
    memoryProfile,
    logLevel,
    logFormat,
    loginMaxFailures: int(env, 'LOGIN_MAX_FAILURES', 10, problems, 1, 1_000),
    loginMaxFailuresPerAddress: int(env, 'LOGIN_MAX_FAILURES_PER_ADDRESS', 100, problems, 1, 100_000),
    loginMaxFailuresPerUser: int(env, 'LOGIN_MAX_FAILURES_PER_USER', 30, problems, 1, 100_000),
    maxSessionsPerUser: int(env, 'MAX_SESSIONS_PER_USER', 20, problems, 1, 1_000),
    warnings: [],
  };
  // DATA_DIR is checked even when variables are wrong, so one restart fixes everything.
  const dataDirProblem = usableDataDir(dataDir, config.warnings);
  if (dataDirProblem !== undefined) problems.push(dataDirProblem);
  if (problems.length > 0) throw new ConfigError(problems);
  if (!jwtSecret) {
    try {
      config.jwtSecret = jwtSecret = persistentSecret(dataDir, 'jwt-secret');
    } catch (error) {
      throw new ConfigError([`DATA_DIR ${dataDir}: cannot keep the JWT secret in jwt-secret: ${reason(error)}`]);
    }
  }
  return config;
}

/** An fs error's message without the stack. */
function reason(error: unknown): string {
  return (error as Error).message;
}

/**
 * Makes sure DATA_DIR is a folder the api can write and that an existing
 * database in it is an SQLite file; returns the problem, if any. Makes the
 * folder private on the way (see privateDataDir).
 */
function usableDataDir(dataDir: string, warnings: string[]): string | undefined {
  try {
    if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) {
      return `DATA_DIR ${dataDir} is a file, not a folder`;
    }
    warnings.push(...privateDataDir(dataDir));
  } catch (error) {
    return `DATA_DIR ${dataDir} cannot be created: ${reason(error)}`;
  }
  try {
    accessSync(dataDir, constants.W_OK | constants.X_OK);
  } catch (error) {
    return `DATA_DIR ${dataDir} is not writable: ${reason(error)}`;
  }
  const database = join(dataDir, SQLITE_FILE);
  if (!existsSync(database)) return undefined;
  try {
    if (!statSync(database).isFile()) return `${database} is not a file`;
    const fd = openSync(database, 'r');
    const header = Buffer.alloc(16);
    const read = readSync(fd, header, 0, 16, 0);
    closeSync(fd);
    // An empty file is a new database to SQLite; anything else starts with this header.
    if (read > 0 && header.toString('latin1') !== 'SQLite format 3\0') return `${database} is not an SQLite database`;
  } catch (error) {
    return `${database} cannot be read: ${reason(error)}`;
  }
  return undefined;
}

/**
 * Makes DATA_DIR (0700) or tightens an existing one open to others: it holds
 * password hashes, telemetry and secrets. Returns what it had to change.
 */
function privateDataDir(dataDir: string): string[] {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const mode = statSync(dataDir).mode & 0o777;
  if ((mode & 0o077) === 0) return [];
  try {
    chmodSync(dataDir, 0o700);
    return [`DATA_DIR ${dataDir} was open to other users (mode ${mode.toString(8)}); it is now 700`];
  } catch (error) {
    const why = (error as Error).message;
    return [`DATA_DIR ${dataDir} is open to other users (mode ${mode.toString(8)}) and could not be made 700: ${why}`];
  }
}

/** The platform's own origins, allowed by default. */
export function effectiveOrigins(config: AppConfig, boundPort: number): string[] {
  return config.allowedOrigins.length > 0
    ? config.allowedOrigins
    : [`http://localhost:${boundPort}`, `http://127.0.0.1:${boundPort}`];
}
