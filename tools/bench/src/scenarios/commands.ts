import type { MqttClient } from 'mqtt';
import type { BenchOptions } from '../lib/args';
import { CpuMeter, type CpuSplit, readCpuSeconds } from '../lib/proc';
import { type ScenarioResult, quantile, round } from '../lib/report';
import {
  type Channel,
  type PhaseResult,
  answeringDevice,
  brokerResponders,
  openBrokerRequester,
  openControlSocket,
  runPhase,
  spread,
} from '../lib/round-trips';
import { mosquittoMissing, startMosquitto } from '../lib/services';
import { log, withApi } from './common';

/** A phase ends when no answer came for this long; what is still in flight then is lost. */
const QUIET_MS = 10_000;
/** The commands' own timeout: well past QUIET_MS, so an unanswered command is lost here, not timed out there. */
const COMMAND_TIMEOUT_MS = 60_000;
/**
 * Round trips of each kind before the measured ones, not counted: code
 * compiled and optimised, pools filled (at most twice as many as measured).
 * With 200, a phase of 1,000 still ran partly on code V8 had not optimised:
 * 1.7 ms of the api's CPU a sequential round trip against 0.15 warm.
 */
const WARMUP_COMMANDS = 2_000;

/**
 * Command round trips: WebSocket clients send `command.send` to devices that
 * answer each command at once with `succeeded`; a round trip is from the
 * send to the terminal `command.status` on the same socket (browser →
 * WebSocket → api → MQTT → device → MQTT → api → WebSocket). After a
 * warm-up, two phases of `commands` each: one at a time on one socket, then
 * `inFlight` in flight over `sockets` sockets. Then, unless Mosquitto is missing, the same
 * exchange between plain MQTT clients over Mosquitto, in the same run: what
 * any bridge costs at least. The api's rate limit is raised for the run.
 */
export function commands(options: BenchOptions): Promise<ScenarioResult> {
  const total = options.commands ?? (options.smoke ? 100 : 1_000);
  const inFlight = options.inFlight ?? (options.smoke ? 20 : 200);
  const sockets = Math.min(options.sockets ?? (options.smoke ? 4 : 20), inFlight);
  const deviceCount = options.devices ?? (options.smoke ? 5 : 20);
  const windows = spread(inFlight, sockets);
  const limit = '1000000';
  return withApi(
    'commands',
    options,
    async ({ api, mark, databasePids }) => {
      const credentials = await api.createDevices(deviceCount);
      const devices = await Promise.all(credentials.map((c) => answeringDevice(api.mqttUrl, c)));
      const ids = credentials.map((c) => c.id);
      log(`commands: ${devices.length} answering devices connected`);
      const notes: string[] = [];
      const results: ScenarioResult['results'] = {};
      let ok = true;
      let cpu: CpuSplit | undefined;
      const open = () => openControlSocket(api.baseUrl, api.token, ids, COMMAND_TIMEOUT_MS);
      const channels: Channel[] = [];
      try {
        channels.push(...(await Promise.all(Array.from({ length: sockets + 1 }, open))));
        let meter: CpuMeter | undefined;
        const apiCpu = () => readCpuSeconds(api.pid);
        const phases = await runPhases(channels[0], channels.slice(1), windows, total, ids.length, 'api', apiCpu, {
          start: () => {
            meter = new CpuMeter(api.pid, () => [], undefined, databasePids);
            mark('start');
          },
          end: () => {
            cpu = meter?.read();
            mark('end');
          },
        });
        for (const [name, phase] of [
          ['sequential', phases.sequential],
          [`${inFlight} in flight`, phases.concurrent],
        ] as const) {
          Object.assign(results, phaseRows(`api ${name}`, phase));
          ok &&= phaseOk(`api ${name}`, phase, notes);
        }
      } finally {
        channels.forEach((c) => c.close());
        await Promise.all(devices.map((d) => d.endAsync().catch(() => undefined)));
      }

      const missing = mosquittoMissing();
      if (missing) {
        notes.push(`Mosquitto baseline skipped: ${missing}`);
        log(`commands: Mosquitto baseline skipped: ${missing}`);
      } else {
        const baseline = await brokerBaseline(deviceCount, total, windows);
        Object.assign(results, phaseRows('Mosquitto sequential', baseline.sequential));
        Object.assign(results, phaseRows(`Mosquitto ${inFlight} in flight`, baseline.concurrent));
        ok &&= phaseOk('Mosquitto sequential', baseline.sequential, notes);
        ok &&= phaseOk(`Mosquitto ${inFlight} in flight`, baseline.concurrent, notes);
      }
      notes.push(
        'round trip = send of command.send → its terminal command.status on the same socket ' +
          '(Mosquitto: publish → reply), timed in this process; answered = succeeded + refused ' +
          '(error with the requestId) + other terminal statuses; lost = sent − answered',
      );
      notes.push(
        'the WebSocket clients, the devices and the Mosquitto clients run in this process: the "bench" CPU row',
      );
      if (!missing)
        notes.push('Mosquitto runs with set_tcp_nodelay true (its default, false, adds about 40 ms a reply)');
      return {
        scenario: 'commands',
        ok,
        parameters: {
          devices: deviceCount,
          'commands a phase': total,
          'in flight (concurrent phase)': inFlight,
          'sockets (concurrent phase)': sockets,
          // --api-env wins over the raised limit (withApi), e.g. to see refusals.
          'WS_RATE_PER_SECOND, WS_RATE_BURST': [
            options.apiEnv['WS_RATE_PER_SECOND'] ?? limit,
            options.apiEnv['WS_RATE_BURST'] ?? limit,
          ].join(', '),
        },
        results,
        cpu,
        notes,
      };
    },
    {
      env: {
        WS_RATE_PER_SECOND: limit,
        WS_RATE_BURST: limit,
        // The sequential phase's socket stays open beside the concurrent ones.
        WS_MAX_SOCKETS_PER_USER: String(Math.max(20, sockets + 1)),
      },
    },
  );
}

/**
 * A warm-up of each kind, not counted (code compiled, pools and buffers
 * grown), then `total` requests one at a time on `one`, then `total` with
 * `windows[i]` in flight on `many[i]`.
 */
async function runPhases(
  one: Channel,
  many: Channel[],
  windows: number[],
  total: number,
  devices: number,
  what: string,
  serverCpu: () => number,
  measured: { start(): void; end(): void } = { start: () => undefined, end: () => undefined },
): Promise<{ sequential: Measured; concurrent: Measured }> {
  const warm = Math.min(WARMUP_COMMANDS, 2 * total);
  const warmSequential = await runPhase([one], [1], warm, devices, QUIET_MS, 'ws');
  const warmConcurrent = await runPhase(many, windows, warm, devices, QUIET_MS, 'wc');
  log(`commands: ${what} warm-up, ${warmSequential.done + warmConcurrent.done} of ${2 * warm} answered`);
  measured.start();
  log(`commands: ${what}, ${total} sequential on one connection`);
  let cpuBefore = serverCpu();
  const sequential = await runPhase([one], [1], total, devices, QUIET_MS, 's');
  const sequentialCpu = serverCpu() - cpuBefore;
  const inFlight = windows.reduce((a, b) => a + b, 0);
  log(`commands: ${what}, ${total} with ${inFlight} in flight over ${many.length} connections`);
  cpuBefore = serverCpu();
  const concurrent = await runPhase(many, windows, total, devices, QUIET_MS, 'c');
  const concurrentCpu = serverCpu() - cpuBefore;
  measured.end();
  return {
    sequential: { ...sequential, serverCpuSeconds: sequentialCpu },
    concurrent: { ...concurrent, serverCpuSeconds: concurrentCpu },
  };
}

/** A phase and the CPU time its server (the api, or Mosquitto: all its threads) spent meanwhile. */
type Measured = PhaseResult & { serverCpuSeconds: number };

/** The same phases between plain MQTT clients over a Mosquitto of its own. */
async function brokerBaseline(
  devices: number,
  total: number,
  windows: number[],
): Promise<{ sequential: Measured; concurrent: Measured }> {
  const broker = await startMosquitto();
  log(`commands: Mosquitto baseline on ${broker.url}`);
  const clients: MqttClient[] = [];
  const requesters: Channel[] = [];
  try {
    clients.push(...(await brokerResponders(broker.url, devices)));
    requesters.push(
      ...(await Promise.all(Array.from({ length: windows.length + 1 }, (_, i) => openBrokerRequester(broker.url, i)))),
    );
    const brokerCpu = () => broker.pids().reduce((sum, pid) => sum + readCpuSeconds(pid), 0);
    return await runPhases(requesters[0], requesters.slice(1), windows, total, devices, 'Mosquitto', brokerCpu);
  } finally {
    requesters.forEach((r) => r.close());
    await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
    await broker.stop();
  }
}

function phaseRows(name: string, p: Measured): ScenarioResult['results'] {
  const q = (x: number) => (p.latencies.length > 0 ? round(quantile(p.latencies, x)) : null);
  return {
    [`${name}: sent`]: p.sent,
    [`${name}: answered`]: p.answered,
    [`${name}: refused (with requestId)`]: p.refused,
    [`${name}: failed`]: p.failed,
    [`${name}: frames answering nothing`]: p.strays,
    [`${name}: lost`]: p.lost,
    [`${name}: p50 ms`]: q(0.5),
    [`${name}: p95 ms`]: q(0.95),
    [`${name}: p99 ms`]: q(0.99),
    [`${name}: max ms`]: q(1),
    [`${name}: round trips/s`]: p.seconds > 0 ? Math.round(p.done / p.seconds) : null,
    [`${name}: server CPU µs a round trip`]:
      p.done > 0 && Number.isFinite(p.serverCpuSeconds) ? Math.round((p.serverCpuSeconds * 1e6) / p.done) : null,
  };
}

/** Whether a phase lost or mangled nothing; what went wrong goes to the notes. */
function phaseOk(name: string, p: PhaseResult, notes: string[]): boolean {
  if (p.lost > 0) notes.push(`${name}: ${p.lost} of ${p.sent} request(s) got no answer in ${QUIET_MS / 1000} s`);
  if (p.failed > 0) notes.push(`${name}: ${p.failed} request(s) answered with another outcome`);
  if (p.strays > 0) notes.push(`${name}: ${p.strays} frame(s) answering no request in flight (counted as failures)`);
  if (p.refused > 0)
    notes.push(`${name}: ${p.refused} request(s) refused by the rate limit (answered with their requestId)`);
  if (p.examples.length > 0) notes.push(`${name}: e.g. ${p.examples.join('; ')}`);
  return p.lost === 0 && p.failed === 0 && p.strays === 0;
}
