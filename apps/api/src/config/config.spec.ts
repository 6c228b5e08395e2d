import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
    expect(effectiveOrigins(config, 3000)).toEqual(['http://localhost:3000', 'http://127.0.0.1:3000']);
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

  it.each([
    ['MQTT_URL', 'http://broker'],
    ['MQTT_PUBLIC_URL', 'iot.example.com:1883'],
    ['MQTT_PUBLIC_URL', 'mqtt://'],
    ['DATABASE_URL', 'mysql://db'],
    ['MQTT_PORT', '70000'],
    ['LOG_LEVEL', 'loud'],
  ])('refuses a bad %s', (name, value) => {
    expect(() => loadConfig({ DATA_DIR: dir, [name]: value })).toThrow(new RegExp(name));
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
});
