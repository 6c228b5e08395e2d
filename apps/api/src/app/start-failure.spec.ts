import { DatabaseUnreachableError } from '../domain/database';
import { ConfigError } from '../platform/config/config';
import { describeStartFailure } from './start-failure';

const listening = { host: '0.0.0.0', port: 3000, mqttPort: 1883 };
const errno = (code: string, extra: Record<string, unknown>): Error =>
  Object.assign(new Error(`${extra['syscall']} ${code}`), { code, ...extra });

describe('describeStartFailure', () => {
  it('lists configuration problems with exit code 78', () => {
    expect(describeStartFailure(new ConfigError(['PORT is bad', 'DATA_DIR is bad']), listening)).toEqual({
      exitCode: 78,
      message: 'invalid configuration:\n  - PORT is bad\n  - DATA_DIR is bad',
    });
  });

  it('names the variable of a port in use, with exit code 69', () => {
    const mqtt = errno('EADDRINUSE', { syscall: 'listen', address: '0.0.0.0', port: 1883 });
    expect(describeStartFailure(mqtt, listening)).toEqual({
      exitCode: 69,
      message: 'cannot start: the MQTT port 1883 (MQTT_PORT) is in use on 0.0.0.0',
    });
    const denied = errno('EACCES', { syscall: 'listen', address: '0.0.0.0', port: 3000 });
    expect(describeStartFailure(denied, listening).message).toMatch(
      /^cannot start: not allowed to listen on the HTTP port 3000 \(PORT\)/,
    );
  });

  it('says the database could not be reached with exit code 69', () => {
    const error = new DatabaseUnreachableError('PostgreSQL could not be reached within 5 s');
    expect(describeStartFailure(error, listening)).toEqual({
      exitCode: 69,
      message: 'cannot start: PostgreSQL could not be reached within 5 s',
    });
  });

  it('blames HOST only for its own address; an external broker that does not resolve is exit 1', () => {
    const host = { ...listening, host: 'nowhere.invalid' };
    const own = errno('ENOTFOUND', { syscall: 'getaddrinfo', hostname: 'nowhere.invalid' });
    expect(describeStartFailure(own, host)).toMatchObject({
      exitCode: 78,
      message: expect.stringMatching(/HOST nowhere.invalid/),
    });
    const broker = errno('ENOTFOUND', { syscall: 'getaddrinfo', hostname: 'broker.invalid' });
    expect(describeStartFailure(broker, host)).toEqual({ exitCode: 1, message: 'cannot start: getaddrinfo ENOTFOUND' });
  });
});
