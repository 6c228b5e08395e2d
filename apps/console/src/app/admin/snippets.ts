import { type DeviceCredentials, topics } from '@iot/protocol';
import { bareHost, type BrokerAddress, brokerUrl } from './broker';

/** What the snippets publish: one flat telemetry message (docs/protocol.md §2.3), as JSON and as TypeScript. */
export const SAMPLE_TELEMETRY = '{"temperature": 21.5}';
const SAMPLE_TELEMETRY_TS = '{ temperature: 21.5 }';

/** A word for a POSIX shell: bare when it is plainly safe, otherwise single-quoted. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_.,:/@%+=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A TypeScript string literal. */
function tsString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

/**
 * A `mosquitto_pub` command that connects as the device (client id = username
 * = device id, MQTT 3.1.1 as the embedded broker requires) and publishes one
 * telemetry message at QoS 1. The secret is always quoted: whatever it holds,
 * the shell must pass it on unchanged.
 */
export function mosquittoPubCommand(credentials: DeviceCredentials, broker: BrokerAddress): string {
  const id = shellQuote(credentials.username);
  const secret = `'${credentials.password.replace(/'/g, `'\\''`)}'`;
  return [
    `mosquitto_pub -h ${shellQuote(bareHost(broker))} -p ${broker.port} -V mqttv311 \\`,
    `  -i ${id} -u ${id} -P ${secret} -q 1 \\`,
    `  -t ${shellQuote(topics.telemetry(credentials.username))} -m ${shellQuote(SAMPLE_TELEMETRY)}`,
  ].join('\n');
}

/** The same message sent with `@iot/device-sdk` (its README shows the rest: commands, state). */
export function deviceSdkSnippet(credentials: DeviceCredentials, broker: BrokerAddress): string {
  return [
    // Not on the public registry: installing the bare name could fetch someone else's package.
    `// Install the SDK package built from the platform's repository (libs/device-sdk/README.md):`,
    `//   npm install ./iot-device-sdk-<version>.tgz`,
    `// Save as device.mjs (or device.mts): an ES module, for the top-level await.`,
    `import { connectDevice } from '@iot/device-sdk';`,
    ``,
    `const device = connectDevice({`,
    `  url: ${tsString(brokerUrl(broker))},`,
    `  deviceId: ${tsString(credentials.username)}, // also the MQTT client id and username`,
    `  // The device secret: keep it out of source control.`,
    `  password: ${tsString(credentials.password)},`,
    `});`,
    `device.on('error', (error) => console.warn(error.message));`,
    ``,
    `await device.waitForConnect();`,
    `await device.publishTelemetry(${SAMPLE_TELEMETRY_TS});`,
    `await device.close(); // publishes \`offline\`, then disconnects`,
  ].join('\n');
}
