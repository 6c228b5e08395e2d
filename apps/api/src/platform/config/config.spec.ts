import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, effectiveOrigins, loadConfig } from './config';

describe('loadConfig', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iot-config-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('applies the documented defaults', () => {
    const config = loadConfig({ DATA_DIR: dir });
    expect(config).toMatchObject({ port: 3000, mqttPort: 1883, mqttUrl: undefined, adminUsername: 'admin', production: false });
    expect(config).toMatchObject({ sseMaxStreamsPerUser: 20, sseMaxStreams: 10_000, stateMaxBytes: 65_536 });
    expect(effectiveOrigins(config, 3000)).toEqual(['http://localhost:3000', 'http://127.0.0.1:3000']);
  });

  it('reads the WebSocket limits, 20 requests a second (bursts of 40) and 20 sockets per user by default', () => {
    const defaults = loadConfig({ DATA_DIR: dir });
    expect(defaults).toMatchObject({ wsRatePerSecond: 20, wsRateBurst: 40, wsMaxSocketsPerUser: 20 });
    const env = { WS_RATE_PER_SECOND: '5000', WS_RATE_BURST: '10000', WS_MAX_SOCKETS_PER_USER: '3' };
    const config = loadConfig({ DATA_DIR: dir, ...env });
    expect(config).toMatchObject({ wsRatePerSecond: 5000, wsRateBurst: 10000, wsMaxSocketsPerUser: 3 });
  });

  it('generates a JWT secret once in development and keeps it in DATA_DIR', () => {
    const first = loadConfig({ DATA_DIR: dir }).jwtSecret;
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(join(dir, 'jwt-secret'), 'utf8').trim()).toBe(first);
    expect(loadConfig({ DATA_DIR: dir }).jwtSecret).toBe(first);
  });

  it('refuses to start in production with a missing or default secret, listing every problem', () => {
    expect(() => loadConfig({ DATA_DIR: dir, NODE_ENV: 'production', ADMIN_PASSWORD: 'admin' })).toThrow(ConfigError);
    try {
      loadConfig({ DATA_DIR: dir, NODE_ENV: 'production', JWT_SECRET: 'secret', ADMIN_PASSWORD: 'changeme', PORT: 'abc' });
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        expect.stringMatching(/^PORT/),
        expect.stringMatching(/^JWT_SECRET/),
        expect.stringMatching(/^ADMIN_PASSWORD/),
      ]);
    }
    expect.assertions(2);
  });

  it('accepts production with a strong secret', () => {
    const config = loadConfig({ DATA_DIR: dir, NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), ADMIN_PASSWORD: 'a-long-admin-pass' });
    expect(config.production).toBe(true);
  });

  it('bounds the telemetry keys per device at 1000 unless TELEMETRY_MAX_KEYS_PER_DEVICE says otherwise (1 to 100000)', () => {
    expect(loadConfig({ DATA_DIR: dir }).maxKeysPerDevice).toBe(1000);
    expect(loadConfig({ DATA_DIR: dir, TELEMETRY_MAX_KEYS_PER_DEVICE: '50' }).maxKeysPerDevice).toBe(50);
    for (const bad of ['0', '100001', '1.5', 'many']) {
      expect(() => loadConfig({ DATA_DIR: dir, TELEMETRY_MAX_KEYS_PER_DEVICE: bad })).toThrow(/TELEMETRY_MAX_KEYS_PER_DEVICE/);
    }
  });

  it('keeps device credentials in the broker only when MQTT_DYNSEC=true with MQTT_URL, and EMQX auth only with a secret', () => {
    expect(loadConfig({ DATA_DIR: dir }).mqttDynsec).toBe(false);
    expect(loadConfig({ DATA_DIR: dir, MQTT_URL: 'mqtt://broker', MQTT_DYNSEC: 'true' }).mqttDynsec).toBe(true);
    expect(loadConfig({ DATA_DIR: dir }).emqxAuthSecret).toBeUndefined();
    const secret = 'e'.repeat(32);
    expect(loadConfig({ DATA_DIR: dir, EMQX_AUTH_SECRET: secret }).emqxAuthSecret).toBe(secret);
  });

  it('takes a postgres:// DATABASE_URL with a pool of 10 connections unless DATABASE_POOL_SIZE says otherwise', () => {
    const config = loadConfig({ DATA_DIR: dir, DATABASE_URL: 'postgres://iot@db/iot' });
    expect(config.databaseUrl).toBe('postgres://iot@db/iot');
    expect(config.databasePoolSize).toBe(10);
    expect(loadConfig({ DATA_DIR: dir, DATABASE_URL: 'postgresql://db/iot', DATABASE_POOL_SIZE: '40' }).databasePoolSize).toBe(40);
  });

  it('waits up to 60 s for PostgreSQL at start unless DATABASE_CONNECT_TIMEOUT_SECONDS says otherwise (0: one try)', () => {
    expect(loadConfig({ DATA_DIR: dir }).databaseConnectTimeoutMs).toBe(60_000);
    expect(loadConfig({ DATA_DIR: dir, DATABASE_CONNECT_TIMEOUT_SECONDS: '0' }).databaseConnectTimeoutMs).toBe(0);
    expect(loadConfig({ DATA_DIR: dir, DATABASE_CONNECT_TIMEOUT_SECONDS: '300' }).databaseConnectTimeoutMs).toBe(300_000);
  });

  it.each([
    ['MQTT_URL', 'http://broker'],
    ['MQTT_PUBLIC_URL', 'iot.example.com:1883'],
    ['MQTT_PUBLIC_URL', 'mqtt://'],
    ['DATABASE_URL', 'mysql://db'],
    ['DATABASE_POOL_SIZE', '0'],
    ['DATABASE_POOL_SIZE', '1001'],
    ['DATABASE_CONNECT_TIMEOUT_SECONDS', '-1'],
    ['DATABASE_CONNECT_TIMEOUT_SECONDS', '3601'],
    ['MQTT_URL', 'mqtt://[broken'],
    ['MQTT_DYNSEC', 'yes'],
    ['MQTT_DYNSEC', 'true'],
    ['MQTT_DYNSEC_TIMEOUT_SECONDS', '0'],
    ['EMQX_AUTH_SECRET', 'short'],
    ['ADMIN_USERNAME', 'bad name'],
    ['ADMIN_PASSWORD', 'x'.repeat(257)],
    ['MQTT_PORT', '70000'],
    ['LOG_LEVEL', 'loud'],
    ['LOG_FORMAT', 'xml'],
    ['MEMORY_PROFILE', 'large'],
    ['WS_RATE_PER_SECOND', '0'],
    ['WS_RATE_BURST', '1.5'],
    ['WS_MAX_SOCKETS_PER_USER', '0'],
    ['LOGIN_MAX_FAILURES', '0'],
    ['LOGIN_MAX_FAILURES_PER_ADDRESS', 'many'],
    ['LOGIN_MAX_FAILURES_PER_USER', '-1'],
    ['MAX_SESSIONS_PER_USER', '0'],
    ['SSE_MAX_STREAMS_PER_USER', '0'],
    ['SSE_MAX_STREAMS', '-1'],
    ['STATE_MAX_BYTES', '600000'],
  ])('refuses a bad %s', (name, value) => {
    expect(() => loadConfig({ DATA_DIR: dir, [name]: value })).toThrow(new RegExp(name));
  });

  it('runs in the small memory profile unless MEMORY_PROFILE=throughput', () => {
    expect(loadConfig({ DATA_DIR: dir }).memoryProfile).toBe('small');
    expect(loadConfig({ DATA_DIR: dir, MEMORY_PROFILE: 'throughput' }).memoryProfile).toBe('throughput');
  });

  it('logs human-readable lines unless LOG_FORMAT=json', () => {
    expect(loadConfig({ DATA_DIR: dir }).logFormat).toBe('pretty');
    expect(loadConfig({ DATA_DIR: dir, LOG_FORMAT: 'json' }).logFormat).toBe('json');
  });

  it('refuses a short or default ADMIN_PASSWORD in development too', () => {
    expect(() => loadConfig({ DATA_DIR: dir, ADMIN_PASSWORD: 'elevenchars' })).toThrow(/ADMIN_PASSWORD.*12 characters/);
    expect(() => loadConfig({ DATA_DIR: dir, ADMIN_PASSWORD: 'password' })).toThrow(/ADMIN_PASSWORD/);
    expect(loadConfig({ DATA_DIR: dir, ADMIN_PASSWORD: 'twelve-chars' }).adminPassword).toBe('twelve-chars');
  });

  it('makes DATA_DIR 0700, tightening one open to others with a warning', () => {
    const fresh = join(dir, 'nested', 'data');
    expect(loadConfig({ DATA_DIR: fresh }).warnings).toEqual([]);
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    chmodSync(dir, 0o755);
    expect(loadConfig({ DATA_DIR: dir }).warnings).toEqual([expect.stringMatching(/was open to other users \(mode 755\)/)]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('applies the login and session limits', () => {
    expect(loadConfig({ DATA_DIR: dir })).toMatchObject({
      loginMaxFailures: 10,
      loginMaxFailuresPerAddress: 100,
      loginMaxFailuresPerUser: 30,
      maxSessionsPerUser: 20,
    });
  });

  it('reads the device connect throttle, 5 failures and 60 s by default', () => {
    expect(loadConfig({ DATA_DIR: dir })).toMatchObject({ mqttAuthMaxFailures: 5, mqttAuthBlockMs: 60_000 });
    expect(loadConfig({ DATA_DIR: dir, MQTT_AUTH_MAX_FAILURES: '10', MQTT_AUTH_BLOCK_SECONDS: '2' })).toMatchObject({
      mqttAuthMaxFailures: 10,
      mqttAuthBlockMs: 2_000,
    });
    expect(() => loadConfig({ DATA_DIR: dir, MQTT_AUTH_MAX_FAILURES: '0' })).toThrow(/MQTT_AUTH_MAX_FAILURES/);
    expect(() => loadConfig({ DATA_DIR: dir, MQTT_AUTH_BLOCK_SECONDS: '0' })).toThrow(/MQTT_AUTH_BLOCK_SECONDS/);
  });

  it('trusts X-Forwarded-* from a loopback proxy unless TRUST_PROXY names others, and refuses what is not an address', () => {
    expect(loadConfig({ DATA_DIR: dir }).trustProxy).toEqual(['loopback']);
    const config = loadConfig({ DATA_DIR: dir, TRUST_PROXY: 'loopback, 172.16.0.0/12,fd00::/8 ,10.0.0.7' });
    expect(config.trustProxy).toEqual(['loopback', '172.16.0.0/12', 'fd00::/8', '10.0.0.7']);
    for (const bad of ['nginx', '10.0.0.0/33', '::1/129', '10.0.0.1/8/8', ' , ', 'true']) {
      expect(() => loadConfig({ DATA_DIR: dir, TRUST_PROXY: bad })).toThrow(/TRUST_PROXY must be/);
    }
  });

  it('refuses PORT and MQTT_PORT alike for the embedded broker', () => {
    expect(() => loadConfig({ DATA_DIR: dir, PORT: '4000', MQTT_PORT: '4000' })).toThrow(/PORT and MQTT_PORT must differ/);
    expect(loadConfig({ DATA_DIR: dir, PORT: '4000', MQTT_PORT: '4000', MQTT_URL: 'mqtt://broker' }).port).toBe(4000);
  });

  it('lists an unusable DATA_DIR with the other problems', () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    expect(() => loadConfig({ DATA_DIR: file, PORT: 'x' })).toThrow(
      expect.objectContaining({ problems: [expect.stringMatching(/^PORT/), `DATA_DIR ${file} is a file, not a folder`] }),
    );
    expect(() => loadConfig({ DATA_DIR: join(file, 'sub') })).toThrow(/DATA_DIR .* cannot be created: ENOTDIR/);
    const data = join(dir, 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'iot.db'), 'not sqlite');
    expect(() => loadConfig({ DATA_DIR: data })).toThrow(/iot\.db is not an SQLite database/);
    writeFileSync(join(data, 'iot.db'), '');
    expect(loadConfig({ DATA_DIR: data }).dataDir).toBe(data);
  });
});
