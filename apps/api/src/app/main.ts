// First: replaces `debug` before aedes loads mqtt-packet (see quiet-debug.ts),
// and defers the date formatters Nest builds as it loads (see deferred-intl.ts).
import '../platform/logging/silence-debug';
import '../platform/memory/defer-intl';
import { setFlagsFromString } from 'node:v8';
import { Logger } from '@nestjs/common';
import { type RunningApp, createApp } from './create-app';
import { type AppConfig, loadConfig } from '../platform/config/config';
import { startSummary, stopSummary } from './lifecycle';
import { describeStartFailure } from './start-failure';
import { restoreDateTimeFormat } from '../platform/memory/deferred-intl';

/** How much the old generation may grow past its live size before a full GC, in the `small` memory profile. */
const HEAP_GROWING_PERCENT = 30;
/** How long a clean shutdown may take before the process exits anyway (with 1). */
const SHUTDOWN_TIMEOUT_MS = 10_000;

let config: AppConfig | undefined;

async function main(): Promise<void> {
  // Every module is loaded by now.
  restoreDateTimeFormat();
  // A ConfigError lands in the catch below: exit 78 with the list of problems.
  config = loadConfig();
  // V8 grows the old generation by up to 4× its live size between full GCs; at high message rates that
  // is garbage promoted from the young generation, 200 MiB and more. Read at every GC, so it may be set here.
  if (config.memoryProfile === 'small') setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  const running = await createApp(config);
  const logger = new Logger('main');
  // Before the summary: whoever waits for it may signal at once.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stop(running, logger, signal));
  const summary = startSummary(config, running);
  logger.log(summary.fields, summary.message);
}

/** A clean shutdown: closes the connections, flushes the events, says so, exits 0. */
async function stop(running: RunningApp, logger: Logger, signal: NodeJS.Signals): Promise<void> {
  logger.log({ signal }, `${signal}: shutting down`);
  setTimeout(() => {
    logger.error(`shutdown took over ${SHUTDOWN_TIMEOUT_MS / 1000} s; exiting`);
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS).unref();
  const summary = await stopSummary(running);
  logger.log({ signal, ...summary.fields }, summary.message);
  process.exit(0);
}

// A failed start says why in a line (or a list), never with a stack trace; LOG_LEVEL=debug adds it.
main().catch((error: unknown) => {
  const listening = config && {
    host: config.host,
    port: config.port,
    mqttPort: config.mqttUrl ? undefined : config.mqttPort,
  };
  const failure = describeStartFailure(error, listening);
  const debug = (config?.logLevel ?? process.env['LOG_LEVEL']) === 'debug';
  const stack = debug && error instanceof Error ? error.stack : undefined;
  if (process.env['LOG_FORMAT'] === 'json') {
    // Still one JSON line, for whatever ships the log.
    const line = { level: 'fatal', time: new Date().toISOString(), exitCode: failure.exitCode, msg: failure.message };
    console.error(JSON.stringify(stack ? { ...line, stack } : line));
  } else {
    console.error(failure.message);
    if (stack) console.error(stack);
  }
  process.exit(failure.exitCode);
});
