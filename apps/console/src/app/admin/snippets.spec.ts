import { bareHost, brokerUrl } from './broker';
import { deviceSdkSnippet, mosquittoPubCommand, SAMPLE_TELEMETRY, shellQuote } from './snippets';

describe('snippets', () => {
  const broker = { host: 'iot.example', port: 1884, guessed: false };
  const credentials = { username: 'boiler-1', password: 'aB3_-xYz' };

  it('builds a mosquitto_pub command that connects as the device and publishes to its telemetry topic', () => {
    expect(mosquittoPubCommand(credentials, broker)).toBe(
      [
        'mosquitto_pub -h iot.example -p 1884 -V mqttv311 \\',
        "  -i boiler-1 -u boiler-1 -P 'aB3_-xYz' -q 1 \\",
        `  -t devices/boiler-1/telemetry -m '${SAMPLE_TELEMETRY}'`,
      ].join('\n'),
    );
  });

  it('quotes a secret so that the shell passes any character on unchanged', () => {
    const command = mosquittoPubCommand({ username: 'a', password: `it's $HOME` }, broker);
    expect(command).toContain(`-P 'it'\\''s $HOME'`);
  });

  it('gives mosquitto_pub an IPv6 host without brackets, and the SDK a URL with them', () => {
    const v6 = { host: '[::1]', port: 1883, guessed: true };
    expect(bareHost(v6)).toBe('::1');
    expect(brokerUrl(v6)).toBe('mqtt://[::1]:1883');
    expect(mosquittoPubCommand(credentials, v6)).toMatch(/^mosquitto_pub -h ::1 -p 1883 /);
  });

  it('writes a device-sdk snippet with the broker url, the id and the secret', () => {
    const snippet = deviceSdkSnippet(credentials, broker);
    expect(snippet).toContain("import { connectDevice } from '@iot/device-sdk';");
    // How to get the package: its tarball, never the bare name from a public registry.
    expect(snippet).toContain('//   npm install ./iot-device-sdk-<version>.tgz');
    expect(snippet).toContain("url: 'mqtt://iot.example:1884',");
    expect(snippet).toContain("deviceId: 'boiler-1',");
    expect(snippet).toContain("password: 'aB3_-xYz',");
    expect(snippet).toContain('await device.waitForConnect();');
    expect(snippet).toContain('await device.publishTelemetry({ temperature: 21.5 });');
  });

  it('escapes quotes and backslashes in the TypeScript string literals', () => {
    expect(deviceSdkSnippet({ username: 'a', password: `o'k\\` }, broker)).toContain(`password: 'o\\'k\\\\',`);
  });

  it.each([
    ['boiler-1', 'boiler-1'],
    ['devices/a/telemetry', 'devices/a/telemetry'],
    ['', "''"],
    ['a b', "'a b'"],
    ['{"t": 1}', `'{"t": 1}'`],
    ["it's", `'it'\\''s'`],
  ])('shellQuote(%p) → %p', (word, expected) => {
    expect(shellQuote(word)).toBe(expected);
  });
});
