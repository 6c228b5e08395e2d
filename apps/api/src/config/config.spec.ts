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
    expect(config).toMatchObject({ sseMaxStreamsPerUser: 20, sseMaxStreams: 10_000, stateMaxBytes: 65_536 });
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
    ['SSE_MAX_STREAMS_PER_USER', '0'],
    ['SSE_MAX_STREAMS', '-1'],
    ['STATE_MAX_BYTES', '600000'],
  ])('refuses a bad %s', (name, value) => {
    expect(() => loadConfig({ DATA_DIR: dir, [name]: value })).toThrow(new RegExp(name));
  });
});
