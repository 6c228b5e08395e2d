// First: replaces `debug` before aedes loads mqtt-packet (see quiet-debug.ts).
import './silence-debug';
import { Logger } from '@nestjs/common';
import { createApp } from './app/create-app';
import { type AppConfig, loadConfig } from './config/config';
import { describeStartFailure } from './start-failure';

let config: AppConfig | undefined;

async function main(): Promise<void> {
  // A ConfigError lands in the catch below: exit 78 with the list of problems.
  config = loadConfig();
  const running = await createApp(config);
  const logger = new Logger('main');
  logger.log(`api listening on http://localhost:${running.port} (console at /, API at /api/v1, docs at /api/docs)`);
}

// A failed start says why in a line (or a list), never with a stack trace; LOG_LEVEL=debug adds it.
main().catch((error: unknown) => {
  const listening = config && {
    host: config.host,
    port: config.port,
    mqttPort: config.mqttUrl ? undefined : config.mqttPort,
  };
  const failure = describeStartFailure(error, listening);
  console.error(failure.message);
  if ((config?.logLevel ?? process.env['LOG_LEVEL']) === 'debug' && error instanceof Error) console.error(error.stack);
  process.exit(failure.exitCode);
});
