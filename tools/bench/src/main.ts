import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { type BenchOptions, type ScenarioName, USAGE, parseArgs } from './lib/args';
import { formatProfile, summarizeProfile } from './lib/profile';
import { backgroundLoad, machineInfo } from './lib/proc';
import { PUBLISHER_ROLE_ENV, runPublisher } from './lib/publisher';
import { type ScenarioResult, formatResult } from './lib/report';
import { replicasMissing } from './lib/services';
import { commands } from './scenarios/commands';
import { log, waitForQuiet } from './scenarios/common';
import { consoleFleet } from './scenarios/console-fleet';
import { fanout } from './scenarios/fanout';
import { idle } from './scenarios/idle';
import { throughput } from './scenarios/throughput';

/**
 * Benchmarks of the api's real-time path, run against the built api in its
 * own process: MQTT ingest throughput, SSE fan-out latency, the memory an
 * idle SSE stream costs, command round trips over the WebSocket (beside the
 * same exchange over plain Mosquitto), and the console's fleet page in Chromium with
 * thousands of live devices; fan-out also through api replicas behind
 * nginx. Not a test: it prints numbers (and writes them
 * as JSON) for docs/performance.md.
 */
const RUNNERS: Record<ScenarioName, (options: BenchOptions) => Promise<ScenarioResult>> = {
  throughput,
  fanout,
  idle,
  commands,
  'console-fleet': consoleFleet,
};

async function main(): Promise<number> {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (options.summarize) {
    console.log(formatProfile(summarizeProfile(options.summarize), 25));
    return 0;
  }

  const machine = machineInfo();
  log(`node ${machine.node}, ${machine.cpus} CPU(s) (${machine.cpuModel}), open-file limit ${machine.openFileLimit}`);
  const background = await backgroundLoad();
  log(`background load before the run: ${background} of ${machine.cpus} cores busy`);
  if (background > 0.25) log('warning: the machine is busy with other work; the numbers will be lower and noisier');
  const results: ScenarioResult[] = [];
  let failed = false;
  // With --baseline each scenario runs on SQLite first, then on PostgreSQL, in the same sitting.
  const engines: Array<string | undefined> = options.baseline
    ? [undefined, options.databaseUrl]
    : [options.databaseUrl];
  for (const name of options.scenarios) {
    for (const databaseUrl of engines) {
      const database = databaseUrl ? 'PostgreSQL' : 'SQLite';
      const missing = databaseUrl && options.replicas > 1 ? replicasMissing() : undefined;
      if (missing) {
        // Not a failure of the api: the machine lacks a part of the topology.
        log(`${name} with ${options.replicas} replicas skipped: ${missing}`);
        results.push({
          scenario: name,
          ok: true,
          parameters: { database },
          results: {},
          notes: [`skipped: ${missing}`],
        });
        continue;
      }
      if (options.waitQuiet > 0) await waitForQuiet(options.waitQuiet);
      try {
        const result = await RUNNERS[name]({ ...options, databaseUrl });
        result.parameters = { database, ...result.parameters };
        results.push(result);
        console.log(`\n${formatResult(result)}`);
        if (result.profile) console.log(formatProfile(result.profile));
        if (!result.ok) failed = true;
      } catch (error) {
        failed = true;
        const message = (error as Error).stack ?? String(error);
        console.error(`\n${name} (${database}) failed: ${message}`);
        results.push({
          scenario: name,
          ok: false,
          parameters: { database },
          results: {},
          notes: [`failed: ${(error as Error).message}`],
        });
      }
    }
  }

  mkdirSync(dirname(options.out), { recursive: true });
  const report = {
    generatedAt: new Date().toISOString(),
    command: `node ${relative(process.cwd(), process.argv[1])} ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { ...machine, backgroundBusyCores: background },
    scenarios: results,
  };
  writeFileSync(options.out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nresults written to ${relative(process.cwd(), options.out) || options.out}`);
  return failed ? 1 : 0;
}

if (process.env[PUBLISHER_ROLE_ENV] === 'publisher') {
  runPublisher();
} else {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
