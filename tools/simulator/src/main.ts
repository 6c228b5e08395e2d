import { dataDirOf, firstAdminCredentials, givenCredentials } from './credentials';
import { CliError, parseCli, USAGE } from './cli';
import { runSimulator, type Simulator } from './simulator';

/** Longest wait for every device to publish `offline` on shutdown. */
const STOP_TIMEOUT_MS = 10_000;
/** A second signal within this many ms of the first is the same request. */
const SIGNAL_REPEAT_MS = 1500;

async function main(): Promise<number> {
  let command;
  let given;
  let firstAdmin;
  try {
    command = parseCli(process.argv.slice(2));
    if (command.kind === 'help') {
      console.log(USAGE);
      return 0;
    }
    given = givenCredentials(command.options, process.env);
    firstAdmin = given === undefined ? firstAdminCredentials(process.env) : undefined;
  } catch (error) {
    console.error(`simulator: ${(error as Error).message}`);
    if (error instanceof CliError) console.error(`\n${USAGE}`);
    return 2;
  }

  // Listen for signals from the start, so that one during registration still stops cleanly.
  let firstSignalAt: number | undefined;
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (firstSignalAt === undefined) {
        firstSignalAt = Date.now();
        resolve(signal);
      } else if (Date.now() - firstSignalAt > SIGNAL_REPEAT_MS) {
        // A wrapper (npm, nx, timeout) may pass one Ctrl-C on as a second signal at once; a later one is the user's.
        console.error('simulator: second signal, exiting without waiting');
        process.exit(1);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  const { options } = command;
  const simulator: Simulator = await runSimulator({
    ...options,
    username: given?.username,
    password: given?.password,
    dataDir: dataDirOf(process.env),
    firstAdmin,
  });
  const signal = await stopRequested;
  console.log(`simulator: ${signal}: closing ${simulator.devices.length} devices`);
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref());
  await Promise.race([simulator.stop(), timeout]);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`simulator: ${(error as Error).message}`);
    process.exit(1);
  },
);
