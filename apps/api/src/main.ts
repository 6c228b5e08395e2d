// First: replaces `debug` before aedes loads mqtt-packet (see quiet-debug.ts).
import './silence-debug';
import { Logger } from '@nestjs/common';
import { createApp } from './app/create-app';
import { ConfigError, loadConfig } from './config/config';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const running = await createApp(config);
  const logger = new Logger('main');
  logger.log(`api listening on http://localhost:${running.port} (console at /, API at /api/v1, docs at /api/docs)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
