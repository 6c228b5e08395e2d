import { type MqttClient, connectAsync } from 'mqtt';
import WebSocket from 'ws';
import type { DeviceCredential } from './api-process';
import { Samples } from './sse';

/** How a request ended, as the requester saw it. */
export type Outcome =
  /** The answer it asked for: a `succeeded` command. */
  | { kind: 'done' }
  /** Refused with its requestId (`error`, e.g. `rate_limited`): answered, not carried out. */
  | { kind: 'refused'; code: string }
  /** Answered with anything else: another terminal status. */
  | { kind: 'failed'; detail: string };

/**
 * One requester: a WebSocket, or an MQTT client of the broker baseline.
 * `request` sends one request; its answer goes to `onAnswer`, once.
 */
export interface Channel {
  request(requestId: string, deviceIndex: number): void;
  /** Set by the phase that uses the channel. */
  onAnswer: Answer;
  /** Frames that answer nothing the channel asked (no requestId, an unknown or repeated one). */
  readonly strays: string[];
  close(): void;
}

export type Answer = (requestId: string, outcome: Outcome) => void;

export interface PhaseResult {
  sent: number;
  /** Requests that got their one final answer (done, refused or failed). */
  answered: number;
  done: number;
  refused: number;
  failed: number;
  /** sent − answered: no answer by the end of the wait. */
  lost: number;
  /** Frames that answer nothing: counted as failures. */
  strays: number;
  /** Round trips of the `done` requests, ms, sorted. */
  latencies: Float64Array;
  seconds: number;
  /** A few of the failures and strays, for the notes. */
  examples: string[];
}

/** Requests in flight at most, per channel: how `inFlight` spreads over `channels` (the first ones take the rest). */
export function spread(inFlight: number, channels: number): number[] {
  return Array.from(
    { length: channels },
    (_, i) => Math.floor(inFlight / channels) + (i < inFlight % channels ? 1 : 0),
  );
}

/**
 * Closed loop: each channel keeps `windows[i]` requests in flight until
 * `total` were sent, round-robin over `devices`; a round trip is the time
 * from sending a request to its answer on the same channel. Done when every
 * request is answered, or when no answer came for `quietMs` (the rest are
 * lost).
 */
export async function runPhase(
  channels: Channel[],
  windows: number[],
  total: number,
  devices: number,
  quietMs: number,
  tag: string,
): Promise<PhaseResult> {
  const pending = new Map<string, { at: number; channel: number }>();
  const latencies = new Samples(total);
  const examples: string[] = [];
  const counts = { sent: 0, done: 0, refused: 0, failed: 0 };
  /** Answers to requests not in flight (a second answer, or one to nothing sent). */
  let unexpected = 0;
  let lastAnswerAt = performance.now();
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const strayBefore = channels.map((c) => c.strays.length);
  const next = (channel: number) => {
    if (counts.sent >= total) return;
    const requestId = `${tag}-${channel}-${counts.sent}`;
    const device = counts.sent % devices;
    counts.sent++;
    pending.set(requestId, { at: performance.now(), channel });
    channels[channel].request(requestId, device);
  };
  const answer: Answer = (requestId, outcome) => {
    const now = performance.now();
    const request = pending.get(requestId);
    if (!request) {
      unexpected++;
      if (examples.length < 5) examples.push(`an answer to ${requestId}, which is not in flight`);
      return;
    }
    pending.delete(requestId);
    lastAnswerAt = now;
    if (outcome.kind === 'done') {
      counts.done++;
      latencies.push(now - request.at);
    } else if (outcome.kind === 'refused') {
      counts.refused++;
    } else {
      counts.failed++;
      if (examples.length < 5) examples.push(`${requestId}: ${outcome.detail}`);
    }
    next(request.channel);
    if (counts.sent >= total && pending.size === 0) finish();
  };
  for (const channel of channels) channel.onAnswer = answer;
  const started = performance.now();
  windows.forEach((window, channel) => {
    for (let i = 0; i < window; i++) next(channel);
  });
  const watchdog = setInterval(() => {
    if (performance.now() - lastAnswerAt > quietMs) finish();
  }, 100);
  await finished;
  clearInterval(watchdog);
  const seconds = (performance.now() - started) / 1000;
  const strays = channels.flatMap((c, i) => c.strays.slice(strayBefore[i]));
  for (const stray of strays.slice(0, 5 - Math.min(5, examples.length))) examples.push(stray);
  const answered = counts.done + counts.refused + counts.failed;
  return {
    ...counts,
    answered,
    lost: counts.sent - answered,
    strays: strays.length + unexpected,
    latencies: latencies.sorted(),
    seconds,
    examples,
  };
}

const TERMINAL = new Set(['succeeded', 'failed', 'timed-out', 'expired', 'cancelled']);

/** What the frames of one socket did not answer, kept short. */
function stray(list: string[], text: string): void {
  if (list.length < 1_000) list.push(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

/**
 * A control WebSocket of the api sending `command.send` (`ping` to
 * `deviceIds[i]`); a request is answered by its terminal `command.status`,
 * or by an `error` with its requestId. Every frame must carry a requestId
 * in flight on this socket: anything else is a stray.
 */
export async function openControlSocket(
  baseUrl: string,
  token: string,
  deviceIds: string[],
  timeoutMs: number,
): Promise<Channel> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/api/v1/ws`;
  const socket = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` }, perMessageDeflate: false });
  const strays: string[] = [];
  const mine = new Set<string>();
  const channel: Channel = {
    strays,
    onAnswer: () => undefined,
    request(requestId, deviceIndex) {
      mine.add(requestId);
      const data = { requestId, deviceId: deviceIds[deviceIndex], name: 'ping', params: {}, timeoutMs };
      socket.send(JSON.stringify({ event: 'command.send', data }));
    },
    close: () => socket.close(),
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`the upgrade was answered ${res.statusCode}`)));
  });
  socket.on('error', (error) => stray(strays, `socket error: ${error.message}`));
  socket.on('close', (code) => {
    if (mine.size > 0) stray(strays, `the socket closed (${code}) with ${mine.size} request(s) in flight`);
  });
  socket.on('message', (data) => {
    const text = String(data);
    let frame: { event?: unknown; data?: { requestId?: unknown; status?: unknown; code?: unknown; error?: unknown } };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      stray(strays, `not JSON: ${text}`);
      return;
    }
    const requestId = frame.data?.requestId;
    if (typeof requestId !== 'string' || !mine.has(requestId)) {
      stray(strays, text);
      return;
    }
    if (frame.event === 'command.status') {
      const status = String(frame.data?.status);
      if (!TERMINAL.has(status)) return;
      mine.delete(requestId);
      channel.onAnswer(
        requestId,
        status === 'succeeded'
          ? { kind: 'done' }
          : { kind: 'failed', detail: `${status} ${String(frame.data?.error ?? '')}` },
      );
    } else if (frame.event === 'error') {
      mine.delete(requestId);
      const code = String(frame.data?.code);
      channel.onAnswer(
        requestId,
        code === 'rate_limited' ? { kind: 'refused', code } : { kind: 'failed', detail: text },
      );
    } else {
      stray(strays, text);
    }
  });
  return channel;
}

/** A device answering every command at once with `succeeded` (QoS 1, as the platform sends them). */
export async function answeringDevice(mqttUrl: string, device: DeviceCredential): Promise<MqttClient> {
  const client = await connectAsync(mqttUrl, {
    clientId: device.id,
    username: device.id,
    password: device.password,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
  });
  const prefix = `devices/${device.id}/commands/`;
  client.on('message', (topic) => {
    if (!topic.startsWith(prefix) || topic.indexOf('/', prefix.length) !== -1) return;
    void client.publishAsync(`${topic}/result`, RESULT, { qos: 1 }).catch(() => undefined);
  });
  await client.subscribeAsync(`${prefix}+`, { qos: 1 });
  return client;
}

const RESULT = JSON.stringify({ status: 'succeeded', result: { ok: true } });

/**
 * The same exchange over a plain broker: a responder per device answers
 * each request on `bench/req/{device}/{requester}/{requestId}` at once on
 * `bench/reply/{requester}/{requestId}`, both at QoS 1 like the platform's
 * commands and results. What any MQTT bridge costs at least.
 */
export async function brokerResponders(url: string, devices: number): Promise<MqttClient[]> {
  return Promise.all(
    Array.from({ length: devices }, async (_, d) => {
      const client = await connectAsync(url, { clientId: `bench-responder-${d}`, clean: true, reconnectPeriod: 0 });
      client.on('message', (topic) => {
        const [, , , requester, requestId] = topic.split('/');
        void client.publishAsync(`bench/reply/${requester}/${requestId}`, RESULT, { qos: 1 }).catch(() => undefined);
      });
      await client.subscribeAsync(`bench/req/${d}/+/+`, { qos: 1 });
      return client;
    }),
  );
}

/** A requester of the broker baseline: publishes requests, takes the replies on its own topic. */
export async function openBrokerRequester(url: string, index: number): Promise<Channel> {
  const client = await connectAsync(url, { clientId: `bench-requester-${index}`, clean: true, reconnectPeriod: 0 });
  const strays: string[] = [];
  const mine = new Set<string>();
  const request = JSON.stringify({ name: 'ping', params: {} });
  const channel: Channel = {
    strays,
    onAnswer: () => undefined,
    request(requestId, deviceIndex) {
      mine.add(requestId);
      void client.publishAsync(`bench/req/${deviceIndex}/${index}/${requestId}`, request, { qos: 1 }).catch((error) => {
        stray(strays, `publishing ${requestId}: ${(error as Error).message}`);
      });
    },
    close: () => void client.endAsync().catch(() => undefined),
  };
  const prefix = `bench/reply/${index}/`;
  client.on('message', (topic, payload) => {
    const requestId = topic.slice(prefix.length);
    if (!topic.startsWith(prefix) || !mine.has(requestId)) {
      stray(strays, `${topic} ${String(payload)}`);
      return;
    }
    mine.delete(requestId);
    let status: unknown;
    try {
      status = (JSON.parse(String(payload)) as { status?: unknown }).status;
    } catch {
      status = undefined;
    }
    channel.onAnswer(
      requestId,
      status === 'succeeded' ? { kind: 'done' } : { kind: 'failed', detail: String(payload) },
    );
  });
  await client.subscribeAsync(`${prefix}+`, { qos: 1 });
  return channel;
}
