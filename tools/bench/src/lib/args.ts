import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkDatabaseUrl } from './postgres';

export type ScenarioName = 'throughput' | 'fanout' | 'idle' | 'commands' | 'console-fleet';
export const SCENARIOS: readonly ScenarioName[] = ['throughput', 'fanout', 'idle', 'commands', 'console-fleet'];
/** What `all` (and no --scenario) runs: the api's own. console-fleet also needs the console built and Chromium. */
export const API_SCENARIOS: readonly ScenarioName[] = ['throughput', 'fanout', 'idle', 'commands'];

export interface BenchOptions {
  scenarios: ScenarioName[];
  /** throughput: messages to publish in total. */
  messages: number;
  /** Seconds: the throughput cap, and the fan-out run length. Undefined: each scenario's default. */
  duration: number | undefined;
  /** fanout: seconds published at the same rate before measuring (0: none). */
  warmup: number | undefined;
  /** SSE clients: fan-out readers, or idle connections. Undefined: each scenario's default. */
  clients: number | undefined;
  /** MQTT devices. Undefined: each scenario's default. */
  devices: number | undefined;
  /** commands: commands in each phase (sequential, then concurrent). */
  commands: number | undefined;
  /** commands: commands in flight in the concurrent phase, over all sockets. */
  inFlight: number | undefined;
  /** commands: WebSockets (and MQTT requesters in the broker baseline) of the concurrent phase. */
  sockets: number | undefined;
  /** Seconds-long runs at low load, to check that nothing is lost (CI), not to measure. */
  smoke: boolean;
  /** Messages per second, all devices together: fan-out's pace (default 2000); throughput floods unless set. */
  rate: number | undefined;
  /** throughput: messages in flight (published, not yet on the stream) at most; 0 = open loop. */
  window: number;
  /** throughput: the QoS devices publish at (1: each waits for its PUBACKs, at most QOS1_IN_FLIGHT unacknowledged). */
  qos: 0 | 1;
  /** Publisher child processes. Undefined: each scenario's default. */
  workers: number | undefined;
  /** The built api. */
  api: string;
  /** console-fleet: the built console (CONSOLE_DIR for the api). */
  console: string;
  /** console-fleet: the Chromium to drive. */
  chromium: string;
  out: string;
  /** Start the api under `node --cpu-prof` and summarise the profile. */
  profile: boolean;
  keepData: boolean;
  /** Extra environment for the api (--api-env KEY=VALUE), e.g. to try a setting. */
  apiEnv: Record<string, string>;
  /** Extra node options for the api (--api-node-arg), e.g. --trace-gc. */
  apiNodeArgs: string[];
  /** idle: also force a full GC in the api (through its inspector) and measure again. */
  forceGc: boolean;
  /** console-fleet: block the page's live stream, to tell the cost of live updates from the machine's load. */
  noLive: boolean;
  /** Before each scenario, wait up to this many seconds for the machine to be nearly idle. */
  waitQuiet: number;
  /** A PostgreSQL server on loopback: each scenario's api runs on a fresh database there (DATABASE_URL). */
  databaseUrl: string | undefined;
  /** With databaseUrl: also run each scenario on SQLite, just before, for a figure side by side. */
  baseline: boolean;
  /**
   * fanout on PostgreSQL: this many api replicas behind nginx (deploy/nginx/nginx.conf), the devices on a
   * Mosquitto the tool starts; 1: one api with its embedded broker.
   */
  replicas: number;
  /** Summarise an existing .cpuprofile and exit. */
  summarize: string | undefined;
}

export const USAGE = `usage: node dist/tools/bench/main.js [options]

  --scenario throughput|fanout|idle|commands|console-fleet|all
                  what to run (default all = throughput, fanout, idle, commands; repeat or
                  comma-separate)
  --messages N    throughput: messages to publish (default 1000000)
  --duration S    throughput: time cap in s (default 20); fanout: run length in s (default 15);
                  console-fleet: the steady window in s (default 20)
  --warmup S      fanout: publish at the same rate for S s first and discard it (default 3; 0: none)
  --clients N     fanout: SSE readers (default 50); idle: SSE connections (default 5000)
  --devices N     MQTT devices publishing (default 100; console-fleet 2000); commands: devices
                  answering (default 20)
  --commands N    commands: commands in each phase, sequential and concurrent (default 1000)
  --in-flight N   commands: commands in flight in the concurrent phase (default 200)
  --sockets N     commands: WebSockets of the concurrent phase, the in-flight commands spread
                  evenly over them (default 20; the broker baseline uses as many MQTT clients)
  --rate N        messages/s over all devices: fanout's pace (default 2000); console-fleet's
                  (default 1000); throughput publishes as fast as it can unless this is given
  --window N      throughput: at most N messages in flight (published, not yet received
                  on the stream); 0 floods open-loop, held back by TCP alone (default 10000)
  --qos 0|1       throughput: the devices' QoS (default 0); with 1 each device keeps at most
                  100 messages unacknowledged, and a PUBACK means the message is stored
  --workers N     publisher processes (default 1: one saturates the api, see docs)
  --api PATH      the built api (default dist/apps/api/main.js); a .ts file (apps/api/src/app/main.ts)
                  runs the api from source through @swc-node/register, no build needed
  --console DIR   console-fleet: the built console (default dist/apps/console/browser)
  --chromium PATH console-fleet: the browser (default /usr/bin/chromium)
  --out PATH      results JSON (default tmp/bench/results.json)
  --profile       run the api under node --cpu-prof and print its top functions;
                  console-fleet also profiles the page (CDP) from the steady window to the end
  --keep-data     keep each run's DATA_DIR
  --api-env K=V   extra environment for the api (repeatable), e.g. SSE_MAX_QUEUED_BYTES=67108864
  --api-node-arg A  an option for the api's node (repeatable), e.g. --api-node-arg=--trace-gc;
                  the api's output is in tmp/bench/logs/<scenario>.log
  --force-gc      idle: start the api with its inspector on a free loopback port and also
                  measure after forcing a full GC through it
  --no-live       console-fleet: the devices publish but the page's stream is blocked, which
                  separates what live updates cost the page from what the load costs the machine
  --wait-quiet S  before each scenario wait up to S s for other load to drop below 0.25 cores
  --database-url URL
                  run the api on PostgreSQL: a server on 127.0.0.1 where the bench may create
                  databases; each scenario gets a fresh one (dropped afterwards unless --keep-data)
  --baseline      with --database-url: also run each scenario on SQLite, just before
  --replicas N    fanout with --database-url: N api replicas on that database, behind nginx
                  (deploy/nginx/nginx.conf, least_conn) the SSE clients connect through, the
                  devices publishing to a Mosquitto the tool starts (default 1: one api, its
                  embedded broker); the --baseline run stays one api on SQLite
  --smoke         every scenario for a few seconds at low load, to check that nothing is lost
                  (the CI runs this); the figures mean nothing
  --summarize F   print the top functions of a .cpuprofile and exit
`;

function positiveInt(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isFinite(n) || n <= 0 || !Number.isInteger(n)) {
    throw new Error(`${name} needs a positive integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function positive(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isFinite(n) || n <= 0)
    throw new Error(`${name} needs a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

/** Parses argv (without node and the script). Throws with a message meant for the user. */
export function parseArgs(argv: string[]): BenchOptions | 'help' {
  const options: BenchOptions = {
    scenarios: [],
    messages: 1_000_000,
    duration: undefined,
    warmup: undefined,
    clients: undefined,
    devices: undefined,
    commands: undefined,
    inFlight: undefined,
    sockets: undefined,
    smoke: false,
    rate: undefined,
    workers: undefined,
    window: 10_000,
    qos: 0,
    api: resolve('dist/apps/api/main.js'),
    console: resolve('dist/apps/console/browser'),
    chromium:
      ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path)) ?? '/usr/bin/chromium',
    out: resolve('tmp/bench/results.json'),
    profile: false,
    keepData: false,
    summarize: undefined,
    apiEnv: {},
    apiNodeArgs: [],
    waitQuiet: 0,
    forceGc: false,
    noLive: false,
    databaseUrl: undefined,
    baseline: false,
    replicas: 1,
  };
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const next = (): string | undefined => value ?? argv[++i];
    given.add(arg);
    switch (arg) {
      case '-h':
      case '--help':
        return 'help';
      case '--scenario':
      case '--scenarios': {
        for (const name of (next() ?? '').split(',')) {
          if (name === 'all') options.scenarios.push(...API_SCENARIOS);
          else if ((SCENARIOS as readonly string[]).includes(name)) options.scenarios.push(name as ScenarioName);
          else throw new Error(`unknown scenario ${JSON.stringify(name)}: use ${SCENARIOS.join(', ')} or all`);
        }
        break;
      }
      case '--messages':
        options.messages = positiveInt(arg, next());
        break;
      case '--duration':
        options.duration = positive(arg, next());
        break;
      case '--warmup': {
        const s = Number(next());
        if (!Number.isFinite(s) || s < 0) throw new Error(`--warmup needs a number of seconds, 0 or more`);
        options.warmup = s;
        break;
      }
      case '--clients':
        options.clients = positiveInt(arg, next());
        break;
      case '--devices':
        options.devices = positiveInt(arg, next());
        break;
      case '--commands':
        options.commands = positiveInt(arg, next());
        break;
      case '--in-flight':
        options.inFlight = positiveInt(arg, next());
        break;
      case '--sockets':
        options.sockets = positiveInt(arg, next());
        break;
      case '--smoke':
        options.smoke = true;
        break;
      case '--rate':
        options.rate = positive(arg, next());
        break;
      case '--window': {
        const raw = next();
        options.window = raw === '0' ? 0 : positiveInt(arg, raw);
        break;
      }
      case '--workers':
        options.workers = positiveInt(arg, next());
        break;
      case '--qos': {
        const raw = next();
        if (raw !== '0' && raw !== '1') throw new Error(`--qos needs 0 or 1, got ${JSON.stringify(raw)}`);
        options.qos = raw === '1' ? 1 : 0;
        break;
      }
      case '--api':
        options.api = resolve(next() ?? '');
        break;
      case '--console':
        options.console = resolve(next() ?? '');
        break;
      case '--chromium':
        options.chromium = resolve(next() ?? '');
        break;
      case '--out':
        options.out = resolve(next() ?? '');
        break;
      case '--profile':
        options.profile = true;
        break;
      case '--force-gc':
        options.forceGc = true;
        break;
      case '--no-live':
        options.noLive = true;
        break;
      case '--keep-data':
        options.keepData = true;
        break;
      case '--api-env': {
        const pair = next() ?? '';
        const at = pair.indexOf('=');
        if (at <= 0) throw new Error(`--api-env needs KEY=VALUE, got ${JSON.stringify(pair)}`);
        options.apiEnv[pair.slice(0, at)] = pair.slice(at + 1);
        break;
      }
      case '--api-node-arg':
        options.apiNodeArgs.push(next() ?? '');
        break;
      case '--wait-quiet':
        options.waitQuiet = positive(arg, next());
        break;
      case '--database-url':
        options.databaseUrl = checkDatabaseUrl(next() ?? '');
        break;
      case '--baseline':
        options.baseline = true;
        break;
      case '--replicas':
        options.replicas = positiveInt(arg, next());
        break;
      case '--summarize':
        options.summarize = resolve(next() ?? '');
        break;
      default:
        throw new Error(`unknown option ${JSON.stringify(arg)}`);
    }
  }
  if (options.baseline && !options.databaseUrl) throw new Error('--baseline compares with --database-url: give both');
  if (options.replicas > 1) {
    if (!options.databaseUrl) throw new Error('--replicas needs --database-url: the replicas share one PostgreSQL');
    if (options.scenarios.some((s) => s !== 'fanout')) throw new Error('--replicas runs the fanout scenario only');
    options.scenarios = ['fanout'];
  }
  if (options.smoke) {
    // Throughput's defaults for a smoke run; the other scenarios pick theirs from `smoke`.
    if (!given.has('--messages')) options.messages = 2_000;
    if (!given.has('--window')) options.window = 200;
  }
  if (options.scenarios.length === 0) options.scenarios = [...API_SCENARIOS];
  options.scenarios = SCENARIOS.filter((s) => options.scenarios.includes(s));
  return options;
}
