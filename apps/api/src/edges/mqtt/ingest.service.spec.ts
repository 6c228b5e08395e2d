import { Logger } from '@nestjs/common';
import { type CommandResult, type JsonObject, type TelemetryValues, parseTopic } from '@iot/protocol';
import type { DeviceMessage, DeviceTransport, PublishOptions } from '../../core/device-transport';
import type { CommandsService } from '../../core/commands/commands.service';
import type { DevicesService } from '../../core/devices/devices.service';
import type { EventLog } from '../../core/events/event-log.service';
import type { PresenceService } from '../../core/events/presence.service';
import type { StateService } from '../../core/state/state.service';
import type { ModelsService } from '../../core/models/models.service';
import type { TelemetryHistory } from '../../core/telemetry/telemetry-history.service';
import { DomainError, type DomainErrorCode } from '../../domain/errors';
import { type NewEvent, telemetryEvent } from '../../domain/events';
import { strictFake } from '../../domain/testing';
import type { AppConfig } from '../../platform/config/config';
import { MetricsService } from '../../platform/metrics/metrics.service';
import {
  IngestService,
  type RefusableKind,
  noticeReason,
  parseCommandResult,
  parseReportedState,
} from './ingest.service';

const payload = (text: string) => Buffer.from(text, 'utf8');

describe('parseCommandResult', () => {
  it('takes a result of the result form', () => {
    expect(parseCommandResult(payload('{"status":"succeeded","result":{"on":true}}'))).toEqual({
      ok: true,
      value: { status: 'succeeded', result: { on: true } },
    });
  });

  it.each<[string, string, RegExp]>([
    ['{"status":', 'invalid_json', /^payload is not valid JSON$/],
    ['{"status":"done"}', 'invalid_command_result', /^status: /],
    ['[]', 'invalid_command_result', /^result: /],
    [`{"status":"failed","error":"${'e'.repeat(1025)}"}`, 'invalid_command_result', /^error: /],
  ])('refuses %j as %s', (text, reason, error) => {
    const parsed = parseCommandResult(payload(text));
    expect(parsed).toMatchObject({ ok: false, reason });
    expect(!parsed.ok && parsed.error).toMatch(error);
  });
});

describe('parseReportedState', () => {
  it('takes a JSON object as it was parsed, a "__proto__" key included, for the state service to refuse', () => {
    const parsed = parseReportedState(payload('{"a":1,"__proto__":{"polluted":true}}'));
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && Object.keys(parsed.value)).toEqual(['a', '__proto__']);
  });

  it.each<[string, string]>([
    ['{"a":', 'invalid_json'],
    ['[1,2]', 'invalid_state'],
    ['null', 'invalid_state'],
    ['"on"', 'invalid_state'],
  ])('refuses %j as %s', (text, reason) => {
    expect(parseReportedState(payload(text))).toMatchObject({ ok: false, reason });
  });
});

describe('noticeReason', () => {
  /**
   * Each code's notice reason, by the message refused; undefined: not
   * acknowledged rather than refused. A Record, so a new code does not
   * compile until it is added here.
   */
  const expected: Record<DomainErrorCode, Record<RefusableKind, string | undefined>> = {
    not_found: { 'command.result': 'unknown_command', 'state.reported': 'unknown_device', model: 'unknown_device' },
    bad_request: { 'command.result': 'invalid_command_result', 'state.reported': 'invalid_state', model: 'invalid_model' },
    too_large: { 'command.result': 'payload_too_large', 'state.reported': 'state_too_large', model: 'invalid_model' },
    conflict: { 'command.result': undefined, 'state.reported': undefined, model: 'model_conflict' },
    precondition_failed: { 'command.result': undefined, 'state.reported': undefined, model: undefined },
    unavailable: { 'command.result': undefined, 'state.reported': undefined, model: undefined },
  };
  const rows = Object.entries(expected).flatMap(([code, byKind]) =>
    Object.entries(byKind).map(([kind, reason]): [RefusableKind, DomainErrorCode, string | undefined] => [
      kind as RefusableKind,
      code as DomainErrorCode,
      reason,
    ]),
  );

  it.each(rows)('gives a %s refused with %s the reason %p', (kind, code, reason) => {
    expect(noticeReason(kind, code)).toBe(reason);
  });
});

describe('IngestService', () => {
  const NOW = Date.UTC(2026, 0, 1);
  const DEVICE = 'dev-1';
  const MAX_KEYS = 5;

  let appended: Array<{ event: NewEvent; receivedAt: number }>;
  /** `afterCommit` callbacks not yet called: the test commits by calling them. */
  let commits: Array<() => void>;
  let order: string[];
  let notices: Array<{ topic: string; payload: unknown; options: PublishOptions }>;
  let presence: Array<[string, boolean, number]>;
  let admitted: string[];
  let room: boolean;
  let knownKeys: number | undefined;
  let metrics: MetricsService;
  let stored: jest.Mock<void, [Error?]>;
  let sut: IngestService;

  beforeAll(() => Logger.overrideLogger(false));

  function make(
    options: {
      kind?: DeviceTransport['kind'];
      commands?: Partial<CommandsService>;
      state?: Partial<StateService>;
      models?: Partial<ModelsService>;
    } = {},
  ): IngestService {
    const config = { maxPayloadBytes: 2048, maxBatchEntries: 2, maxKeysPerDevice: MAX_KEYS } as AppConfig;
    const transport = strictFake<DeviceTransport>(
      {
        kind: options.kind ?? 'embedded',
        publish: async (topic, payload, publishOptions) => {
          notices.push({ topic, payload: JSON.parse(String(payload)), options: publishOptions });
        },
      },
      'transport',
    );
    const telemetryHistory = strictFake<TelemetryHistory>(
      {
        admitKeys: (deviceId, entries, max) => {
          admitted.push(`${deviceId}:${entries.length}:${max}`);
          return knownKeys;
        },
      },
      'telemetryHistory',
    );
    const log = strictFake<EventLog>(
      {
        hasRoom: () => room,
        append: (event, receivedAt) => {
          appended.push({ event, receivedAt });
          order.push('append');
          return true;
        },
        afterCommit: (done) => {
          commits.push(done);
          order.push('afterCommit');
        },
      },
      'log',
    );
    const presenceService = strictFake<PresenceService>(
      {
        has: (id) => id === DEVICE,
        known: async (id) => id === DEVICE,
        set: (id, online, ts) => void presence.push([id, online, ts]),
        report: (id, online, ts) => void presence.push([id, online, ts]),
      },
      'presence',
    );
    return new IngestService(
      config,
      transport,
      strictFake<DevicesService>({}, 'devices'),
      telemetryHistory,
      log,
      presenceService,
      metrics,
      strictFake<CommandsService>(options.commands ?? {}, 'commands'),
      strictFake<StateService>(options.state ?? {}, 'state'),
      strictFake<ModelsService>({ telemetryMisfits: () => undefined, ...options.models }, 'models'),
    );
  }

  beforeEach(() => {
    jest.useFakeTimers({ now: NOW });
    appended = [];
    commits = [];
    order = [];
    notices = [];
    presence = [];
    admitted = [];
    room = true;
    knownKeys = undefined;
    metrics = new MetricsService();
    stored = jest.fn<void, [Error?]>();
    sut = make();
  });

  afterEach(() => jest.useRealTimers());

  const message = (rawTopic: string, payload: string): DeviceMessage => {
    const topic = parseTopic(rawTopic)!;
    return { deviceId: topic.deviceId, topic, rawTopic, payload: Buffer.from(payload), receivedAt: NOW };
  };
  const rejected = async (reason: string) =>
    (await metrics.messagesRejected.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  const notice = (rawTopic: string, error: string | RegExp) => ({
    topic: `devices/${DEVICE}/errors`,
    payload: { topic: rawTopic, error: typeof error === 'string' ? error : expect.stringMatching(error), ts: NOW },
    options: { qos: 0 },
  });
  /** Commits what was appended: the waiting `afterCommit` callbacks run. */
  const commit = () => commits.splice(0).forEach((done) => done());
  const settle = () => jest.advanceTimersByTimeAsync(0);
  const deferred = () => {
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    return { promise, resolve, reject };
  };

  describe('telemetry', () => {
    const topic = `devices/${DEVICE}/telemetry`;

    it('appends one event per entry and acknowledges the message once they are committed', () => {
      const entries: Array<{ ts: number; values: TelemetryValues }> = [
        { ts: NOW - 1_000, values: { t: 1 } },
        { ts: NOW - 500, values: { t: 2, on: true } },
      ];
      sut.onMessage(message(topic, JSON.stringify(entries)), stored);

      expect(appended).toEqual(
        entries.map(({ ts, values }) => ({ event: telemetryEvent(DEVICE, ts, values), receivedAt: NOW })),
      );
      expect(admitted).toEqual([`${DEVICE}:2:${MAX_KEYS}`]);
      expect(presence).toEqual([[DEVICE, true, NOW]]);
      expect(order).toEqual(['append', 'append', 'afterCommit']);
      expect(stored).not.toHaveBeenCalled();
      commit();
      expect(stored).toHaveBeenCalledWith();
    });

    it.each<[string, string, string | RegExp]>([
      ['{"t":', 'invalid_json', 'payload is not valid JSON'],
      ['[]', 'invalid_telemetry', 'a batch needs at least one entry'],
      ['[{"t":1},{"t":2},{"t":3}]', 'batch_too_large', 'a batch may have at most 2 entries, got 3'],
      [`{"t":"${'x'.repeat(2048)}"}`, 'payload_too_large', /over the 2048-byte limit/],
    ])('refuses %j as %s: an error notice, counted, nothing appended', async (payload, reason, error) => {
      sut.onMessage(message(topic, payload), stored);

      expect(notices).toEqual([notice(topic, error)]);
      expect(await rejected(reason)).toBe(1);
      expect([appended, admitted, presence]).toEqual([[], [], []]);
      commit();
      expect(stored).toHaveBeenCalledWith();
    });

    it('refuses a message of a device it does not know (after asking the directory), acknowledged, with no notice', async () => {
      const acknowledged = new Promise<void>((resolve) => stored.mockImplementationOnce(() => resolve()));
      sut.onMessage(message('devices/ghost/telemetry', '{"t":1}'), stored);
      await acknowledged;

      expect(await rejected('unknown_device')).toBe(1);
      expect(stored).toHaveBeenCalledWith();
      expect([appended, notices, commits]).toEqual([[], [], []]);
    });

    it('refuses a message the log has no room for as overloaded, before taking its keys in', async () => {
      room = false;
      sut.onMessage(message(topic, '{"t":1}'), stored);

      expect(notices).toEqual([notice(topic, 'the platform is overloaded; retry later')]);
      expect(await rejected('overloaded')).toBe(1);
      expect([appended, admitted]).toEqual([[], []]);
    });

    it('refuses a message that would take the device past its keys', async () => {
      knownKeys = 4;
      sut.onMessage(message(topic, '{"t":1,"new":2}'), stored);

      expect(notices).toEqual([notice(topic, /the device has 4 and may have at most 5/)]);
      expect(await rejected('too_many_keys')).toBe(1);
      expect([appended, presence]).toEqual([[], []]);
    });

    it("leaves presence to the broker's status messages on an external broker", () => {
      sut = make({ kind: 'external' });
      sut.onMessage(message(topic, '{"t":1}'));
      expect(appended).toHaveLength(1);
      expect(presence).toEqual([]);
    });
  });

  describe('status', () => {
    const topic = `devices/${DEVICE}/status`;

    it('sets presence from "online" and "offline"', () => {
      sut.onMessage(message(topic, 'online'), stored);
      sut.onMessage(message(topic, 'offline\n'));
      expect(presence).toEqual([
        [DEVICE, true, NOW],
        [DEVICE, false, NOW],
      ]);
      commit();
      expect(stored).toHaveBeenCalledTimes(1);
    });

    it('delivers held commands when a device says it is online on an external broker', () => {
      const delivered: string[] = [];
      sut = make({ kind: 'external', commands: { deliverPending: (id) => void delivered.push(id) } });
      sut.onMessage(message(topic, 'offline'));
      sut.onMessage(message(topic, 'online'));
      expect(delivered).toEqual([DEVICE]);
    });

    it('refuses any other status', async () => {
      sut.onMessage(message(topic, 'asleep'));
      expect(notices).toEqual([notice(topic, 'status must be "online" or "offline"')]);
      expect(await rejected('invalid_status')).toBe(1);
      expect(presence).toEqual([]);
    });
  });

  describe('command results, reported state and models', () => {
    const resultTopic = `devices/${DEVICE}/commands/cmd-1/result`;
    const reportedTopic = `devices/${DEVICE}/state/reported`;
    const modelTopic = `devices/${DEVICE}/model`;

    it('gives a parsed command result to the core and acknowledges once its work and events are committed', async () => {
      const work = deferred();
      const results: Array<[string, string, CommandResult]> = [];
      sut = make({
        commands: {
          onResult: (deviceId, commandId, result) => {
            results.push([deviceId, commandId, result]);
            return work.promise;
          },
        },
      });

      sut.onMessage(message(resultTopic, '{"status":"succeeded","result":{"up":true}}'), stored);
      expect(results).toEqual([[DEVICE, 'cmd-1', { status: 'succeeded', result: { up: true } }]]);
      await settle();
      expect(commits).toEqual([]);

      work.resolve();
      await settle();
      expect(stored).not.toHaveBeenCalled();
      commit();
      expect(stored).toHaveBeenCalledWith();
    });

    it('gives a reported state patch to the core with the receive time', async () => {
      const patches: Array<[string, JsonObject, number]> = [];
      sut = make({ state: { applyReported: async (...args) => void patches.push(args) } });

      sut.onMessage(message(reportedTopic, '{"temp":21}'), stored);
      await settle();

      expect(patches).toEqual([[DEVICE, { temp: 21 }, NOW]]);
      commit();
      expect(stored).toHaveBeenCalledWith();
    });

    it('refuses a payload the core never sees, by its parse reason', async () => {
      sut.onMessage(message(resultTopic, '{"status":"done"}'), stored);
      sut.onMessage(message(reportedTopic, '[1]'), stored);

      expect(notices).toEqual([notice(resultTopic, /^status: /), notice(reportedTopic, /must be a JSON object/)]);
      expect([await rejected('invalid_command_result'), await rejected('invalid_state')]).toEqual([1, 1]);
    });

    it.each<[RefusableKind, DomainErrorCode, string]>([
      ['command.result', 'not_found', 'unknown_command'],
      ['command.result', 'bad_request', 'invalid_command_result'],
      ['state.reported', 'too_large', 'state_too_large'],
      ['state.reported', 'bad_request', 'invalid_state'],
      ['state.reported', 'not_found', 'unknown_device'],
      ['model', 'bad_request', 'invalid_model'],
      ['model', 'conflict', 'model_conflict'],
    ])('turns a %s refused with %s into a %s notice, acknowledged', async (kind, code, reason) => {
      const refuse = () => Promise.reject(new DomainError(code, 'why, for the device'));
      sut = make({ commands: { onResult: refuse }, state: { applyReported: refuse }, models: { announce: refuse } });
      const topic = kind === 'command.result' ? resultTopic : kind === 'model' ? modelTopic : reportedTopic;

      sut.onMessage(message(topic, kind === 'command.result' ? '{"status":"accepted"}' : '{"a":1}'), stored);
      await settle();

      expect(notices).toEqual([notice(topic, 'why, for the device')]);
      expect(await rejected(reason)).toBe(1);
      expect(stored).toHaveBeenCalledWith();
      expect(commits).toEqual([]);
    });

    it('gives an announced model to the models service, and acknowledges it once what it appended is committed', async () => {
      const announced: unknown[] = [];
      sut = make({ models: { announce: async (id, model) => void announced.push([id, model]) } });

      sut.onMessage(message(modelTopic, '{"id":"acme.lamp","version":1}'), stored);
      await settle();

      expect(announced).toEqual([[DEVICE, { id: 'acme.lamp', version: 1 }]]);
      expect(stored).not.toHaveBeenCalled();
      commit();
      expect(stored).toHaveBeenCalledWith();
    });

    it.each<[string, Error]>([
      ['a refusal that is not about the message', new DomainError('unavailable', 'busy')],
      ['a failure', new Error('disk I/O error')],
    ])('does not acknowledge after %s, and sends no notice', async (_, error) => {
      sut = make({ state: { applyReported: () => Promise.reject(error) } });

      sut.onMessage(message(reportedTopic, '{"a":1}'), stored);
      await settle();

      expect(stored).toHaveBeenCalledWith(expect.any(Error));
      expect(notices).toEqual([]);
    });
  });

  it.each([[`devices/${DEVICE}/state/desired`], [`devices/${DEVICE}/commands/cmd-1`], [`devices/${DEVICE}/errors`]])(
    "ignores the platform's own %s echoed back, acknowledged",
    (topic) => {
      sut.onMessage(message(topic, '{"anything":true}'), stored);

      expect([appended, notices, presence]).toEqual([[], [], []]);
      commit();
      expect(stored).toHaveBeenCalledWith();
    },
  );
});
