import { Logger } from '@nestjs/common';
import type { CommandEvent, CommandResult, CommandTransition } from '@iot/protocol';
import type { ClusterChannel } from '../../domain/cluster';
import type { CommandPatch, CommandRecord, CommandRepository, CommandWithHistory } from '../../domain/commands';
import type { NewEvent } from '../../domain/events';
import { refusalOf, strictFake } from '../../domain/testing';
import { MetricsService } from '../../platform/metrics/metrics.service';
import type { DeviceTransport, PublishOptions } from '../device-transport';
import { EventBus } from '../events/event-bus';
import type { EventLog } from '../events/event-log.service';
import type { PresenceService } from '../events/presence.service';
import type { ModelsService } from '../models/models.service';
import { DomainError } from '../../domain/errors';
import { CommandsService, SWEEP_MS } from './commands.service';

const NOW = Date.UTC(2026, 0, 1);
const DEVICE = 'dev-1';


/** Lets every settled promise chain run (fake-timer time does not move). */
const flush = () => jest.advanceTimersByTimeAsync(0);

describe('CommandsService', () => {
  let rows: Map<string, CommandWithHistory>;
  let updates: Array<{ id: string; patch: CommandPatch; transition: CommandTransition | undefined }>;
  let published: Array<{ topic: string; payload: unknown; options: PublishOptions }>;
  let appended: NewEvent[];
  let announced: CommandEvent[];
  let order: string[];
  let online: Set<string>;
  let insertFails: boolean;
  /** What the device's model says of a command: a timeout, or a refusal. */
  let modelCheck: ModelsService['checkCommand'];
  let metrics: MetricsService;
  let bus: EventBus;
  let sut: CommandsService;

  beforeAll(() => Logger.overrideLogger(false));

  function make(
    repository: Partial<CommandRepository> = {},
    cluster = strictFake<ClusterChannel>({ shared: false }, 'cluster'),
  ): CommandsService {
    const commands = strictFake<CommandRepository>(
      {
        insert: async (command, transition) => {
          if (insertFails) throw new Error('disk I/O error');
          rows.set(command.id, { ...structuredClone(command), transitions: [transition] });
        },
        update: async (id, from, patch, transition, ts) => {
          const row = rows.get(id);
          if (!row || row.status !== from) return false;
          updates.push({ id, patch, transition });
          const transitions = transition ? [...row.transitions, transition] : row.transitions;
          Object.assign(row, structuredClone(patch), { updatedAt: ts, transitions });
          return true;
        },
        get: async (id) => rows.get(id),
        ...repository,
      },
      'commands',
    );
    const transport = strictFake<DeviceTransport>(
      {
        // As an external broker answers: the device's presence decides.
        acceptsCommands: (_deviceId, isOnline) => isOnline,
        publish: async (topic, payload, options) => {
          published.push({ topic, payload: JSON.parse(String(payload)), options });
        },
      },
      'transport',
    );
    const presence = strictFake<PresenceService>(
      {
        has: (id) => id === DEVICE || id === 'dev-2',
        known: async (id) => id === DEVICE || id === 'dev-2',
        isOnline: (id) => online.has(id),
      },
      'presence',
    );
    const log = strictFake<EventLog>(
      {
        append: (event) => {
          appended.push(event);
          order.push(`log:${event.type}`);
          return true;
        },
      },
      'log',
    );
    const models = strictFake<ModelsService>({ checkCommand: (...args) => modelCheck(...args) }, 'models');
    return new CommandsService(commands, transport, presence, log, metrics, bus, cluster, models);
  }

  beforeEach(() => {
    jest.useFakeTimers({ now: NOW });
    rows = new Map();
    updates = [];
    published = [];
    appended = [];
    announced = [];
    order = [];
    online = new Set([DEVICE]);
    insertFails = false;
    modelCheck = async () => ({});
    metrics = new MetricsService();
    bus = new EventBus();
    bus.on('command.transition', (update) => {
      announced.push(update);
      order.push(`bus:${update.status}`);
    });
    sut = make();
  });

  afterEach(() => jest.useRealTimers());

  const statuses = (id: string) => rows.get(id)?.transitions.map((t) => t.status);
  const lateResults = async () =>
    (await metrics.messagesRejected.get()).values.find((v) => v.labels.reason === 'late_command_result')?.value ?? 0;

  describe('send', () => {
    it('sends to an online device: stored as sent with its transition, published with QoS 1 and a response topic', async () => {
      const record = await sut.send(
        { deviceId: DEVICE, name: 'reboot', params: { delay: 1 }, timeoutMs: 5_000, ttlMs: 60_000 },
        'alice',
      );

      expect(record).toMatchObject({
        deviceId: DEVICE,
        name: 'reboot',
        status: 'sent',
        issuedAt: NOW,
        sentAt: NOW,
        expiresAt: NOW + 60_000,
        timeoutMs: 5_000,
        createdBy: 'alice',
      });
      expect(rows.get(record.id)).toEqual({ ...record, transitions: [{ status: 'sent', ts: NOW, by: 'alice' }] });
      expect(published).toEqual([
        {
          topic: `devices/${DEVICE}/commands/${record.id}`,
          payload: { name: 'reboot', params: { delay: 1 }, issuedAt: NOW, expiresAt: NOW + 60_000 },
          options: {
            qos: 1,
            responseTopic: `devices/${DEVICE}/commands/${record.id}/result`,
            correlationData: Buffer.from(record.id),
          },
        },
      ]);
    });

    it("refuses a command its device's model refuses, storing and sending nothing", async () => {
      const asked: unknown[] = [];
      modelCheck = async (...args) => {
        asked.push(args);
        throw new DomainError('bad_request', 'params.value: must be <= 30');
      };

      expect(await refusalOf(() => sut.send({ deviceId: DEVICE, name: 'setpoint.set', params: { value: 99 } }, 'alice'))).toBe(
        'bad_request',
      );
      expect(asked).toEqual([[DEVICE, 'setpoint.set', { value: 99 }]]);
      expect([rows.size, published, appended]).toEqual([0, [], []]);
    });

    it("takes the model's timeout for a command sent without one, and the sender's over it", async () => {
      modelCheck = async () => ({ timeoutMs: 600_000 });

      expect((await sut.send({ deviceId: DEVICE, name: 'firmware.update' }, 'alice')).timeoutMs).toBe(600_000);
      expect((await sut.send({ deviceId: DEVICE, name: 'firmware.update', timeoutMs: 1_000 }, 'alice')).timeoutMs).toBe(1_000);
    });

    it('gives claim the id, then appends the transition to the log and emits it on the bus', async () => {
      const record = await sut.send({ deviceId: DEVICE, name: 'reboot' }, 'alice', (id) => order.push(`claim:${id}`));

      expect(order).toEqual([`claim:${record.id}`, 'log:command', 'bus:sent']);
      const update = { commandId: record.id, deviceId: DEVICE, name: 'reboot', status: 'sent', ts: NOW };
      expect(announced).toEqual([update]);
      expect(appended).toEqual([{ type: 'command', deviceId: DEVICE, ts: NOW, data: JSON.stringify(update) }]);
      expect((await metrics.commands.get()).values).toEqual([
        expect.objectContaining({ labels: { status: 'sent' }, value: 1 }),
      ]);
    });

    it('holds a command for an offline device as pending, and deliverPending sends it once the device can take it', async () => {
      online.clear();
      const record = await sut.send({ deviceId: DEVICE, name: 'reboot', ttlMs: 60_000 }, 'alice');
      expect(record.status).toBe('pending');
      expect(statuses(record.id)).toEqual(['pending']);
      expect(published).toEqual([]);

      await jest.advanceTimersByTimeAsync(1_000);
      online.add(DEVICE);
      sut.deliverPending('dev-2'); // another device's: nothing to send
      await flush();
      expect(published).toEqual([]);
      sut.deliverPending(DEVICE);
      await flush();

      expect(updates).toEqual([
        {
          id: record.id,
          patch: { status: 'sent', sentAt: NOW + 1_000 },
          transition: { status: 'sent', ts: NOW + 1_000 },
        },
      ]);
      expect(published.map((p) => p.topic)).toEqual([`devices/${DEVICE}/commands/${record.id}`]);
      expect(announced.map((u) => u.status)).toEqual(['pending', 'sent']);

      // Sent, it no longer expires at its ttl; a second delivery sends nothing more.
      sut.deliverPending(DEVICE);
      await flush();
      expect(published).toHaveLength(1);
    });

    it('expires a held command at its ttl, not before', async () => {
      online.clear();
      const record = await sut.send({ deviceId: DEVICE, name: 'reboot', ttlMs: 60_000 }, 'alice');

      await jest.advanceTimersByTimeAsync(59_999);
      expect(updates).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect(statuses(record.id)).toEqual(['pending', 'expired']);
      expect(rows.get(record.id)?.status).toBe('expired');
      expect(announced.map((u) => u.status)).toEqual(['pending', 'expired']);

      // Gone from the open ones: a late delivery sends nothing.
      online.add(DEVICE);
      sut.deliverPending(DEVICE);
      await flush();
      expect(published).toEqual([]);
    });

    it('times out a sent command with no result after timeoutMs, not before', async () => {
      const record = await sut.send({ deviceId: DEVICE, name: 'reboot', timeoutMs: 5_000 }, 'alice');

      await jest.advanceTimersByTimeAsync(4_999);
      expect(updates).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect(updates).toEqual([
        {
          id: record.id,
          patch: { status: 'timed-out', error: 'no result before the timeout' },
          transition: { status: 'timed-out', ts: NOW + 5_000 },
        },
      ]);
      expect(announced.at(-1)).toMatchObject({ status: 'timed-out', error: 'no result before the timeout' });
    });

    it('refuses a device it does not know with not_found, storing nothing', async () => {
      expect(await refusalOf(() => sut.send({ deviceId: 'ghost', name: 'reboot' }, 'alice'))).toBe('not_found');
      expect(rows.size).toBe(0);
      expect(announced).toEqual([]);
    });

    it('rejects when the command could not be stored, and leaves nothing open, announced or published', async () => {
      insertFails = true;
      let id = '';
      await expect(
        sut.send({ deviceId: DEVICE, name: 'reboot', timeoutMs: 5_000 }, 'alice', (claimed) => (id = claimed)),
      ).rejects.toThrow(/could not be stored/);

      expect(id).not.toBe('');
      expect([published, appended, announced]).toEqual([[], [], []]);
      // Not open: cancelling looks it up in storage, where it is not; no timer ends it later.
      expect(await refusalOf(() => sut.cancel(id, 'alice'))).toBe('not_found');
      await jest.advanceTimersByTimeAsync(60 * 60_000);
      expect(updates).toEqual([]);
    });
  });

  describe('results', () => {
    const answer = (status: CommandResult['status'], rest: Omit<CommandResult, 'status'> = {}): CommandResult => ({
      status,
      ...rest,
    });

    it('moves a sent command through accepted and in-progress to succeeded, and stops its timeout', async () => {
      const { id } = await sut.send({ deviceId: DEVICE, name: 'reboot', timeoutMs: 5_000 }, 'alice');

      await sut.onResult(DEVICE, id, answer('accepted'));
      await sut.onResult(DEVICE, id, answer('in-progress'));
      await sut.onResult(DEVICE, id, answer('succeeded', { result: { uptime: 0 } }));

      expect(statuses(id)).toEqual(['sent', 'accepted', 'in-progress', 'succeeded']);
      expect(rows.get(id)).toMatchObject({ status: 'succeeded', result: { uptime: 0 } });
      expect(announced.at(-1)).toMatchObject({ status: 'succeeded', result: { uptime: 0 } });
      expect(jest.getTimerCount()).toBe(0);
      await jest.advanceTimersByTimeAsync(10_000);
      expect(statuses(id)).toHaveLength(4);
    });

    it('takes the progress of a long-running command, at most once a second, with no transition for it', async () => {
      const { id } = await sut.send({ deviceId: DEVICE, name: 'firmware.update', timeoutMs: 60_000 }, 'alice');

      await sut.onResult(DEVICE, id, answer('in-progress', { progress: 10 }));
      await sut.onResult(DEVICE, id, answer('in-progress', { progress: 20 }));
      await jest.advanceTimersByTimeAsync(1_000);
      await sut.onResult(DEVICE, id, answer('in-progress', { progress: 30 }));
      await sut.onResult(DEVICE, id, answer('in-progress'));

      expect(statuses(id)).toEqual(['sent', 'in-progress']);
      expect(rows.get(id)).toMatchObject({ status: 'in-progress', progress: 30, updatedAt: NOW + 1_000 });
      expect(announced.map((a) => [a.status, a.progress])).toEqual([
        ['sent', undefined],
        ['in-progress', 10],
        ['in-progress', 30],
      ]);
      expect(appended.filter((e) => e.type === 'command')).toHaveLength(3);
    });

    it("waits as long as the device says it still needs, from when it says so, instead of the command's timeout", async () => {
      const { id } = await sut.send({ deviceId: DEVICE, name: 'firmware.update', timeoutMs: 5_000 }, 'alice');
      await jest.advanceTimersByTimeAsync(4_000);
      await sut.onResult(DEVICE, id, answer('accepted', { timeoutMs: 60_000 }));
      await jest.advanceTimersByTimeAsync(30_000);
      // Progress with a new timeout is taken at once, however soon after the last.
      await sut.onResult(DEVICE, id, answer('in-progress', { progress: 50, timeoutMs: 10_000 }));
      expect(rows.get(id)).toMatchObject({ status: 'in-progress', progress: 50, timeoutMs: 44_000 });

      await jest.advanceTimersByTimeAsync(9_999);
      expect(rows.get(id)?.status).toBe('in-progress');
      await jest.advanceTimersByTimeAsync(1);
      expect(rows.get(id)).toMatchObject({ status: 'timed-out', error: 'no result before the timeout' });
      expect(statuses(id)).toEqual(['sent', 'accepted', 'in-progress', 'timed-out']);
    });

    it('ends a command as failed, with "failed" as the error when the device gave none', async () => {
      const { id } = await sut.send({ deviceId: DEVICE, name: 'reboot' }, 'alice');
      await sut.onResult(DEVICE, id, answer('failed'));
      expect(rows.get(id)).toMatchObject({ status: 'failed', error: 'failed' });
    });

    it('takes a repeated result once and ignores one of a lower rank', async () => {
      const { id } = await sut.send({ deviceId: DEVICE, name: 'reboot' }, 'alice');

      await sut.onResult(DEVICE, id, answer('accepted'));
      await sut.onResult(DEVICE, id, answer('accepted'));
      await sut.onResult(DEVICE, id, answer('in-progress'));
      await sut.onResult(DEVICE, id, answer('accepted'));

      expect(updates.map((u) => u.patch.status)).toEqual(['accepted', 'in-progress']);
      expect(rows.get(id)?.status).toBe('in-progress');
    });

    it('ignores a result for a command still pending (not yet sent)', async () => {
      online.clear();
      const { id } = await sut.send({ deviceId: DEVICE, name: 'reboot' }, 'alice');
      await sut.onResult(DEVICE, id, answer('succeeded'));
      expect(updates).toEqual([]);
    });

    it('counts a result after the command ended as late and ignores it, whether it raced the end or came after', async () => {
      const { id } = await sut.send({ deviceId: DEVICE, name: 'reboot' }, 'alice');

      // Two answers at once: the second finds the command ended by the first.
      await Promise.all([sut.onResult(DEVICE, id, answer('succeeded')), sut.onResult(DEVICE, id, answer('failed'))]);
      expect(await lateResults()).toBe(1);
      await sut.onResult(DEVICE, id, answer('failed', { error: 'too late' }));
      expect(await lateResults()).toBe(2);

      expect(updates.map((u) => u.patch.status)).toEqual(['succeeded']);
      expect(rows.get(id)?.status).toBe('succeeded');
    });

    it('refuses a result for a command the device does not have with not_found', async () => {
      const { id } = await sut.send({ deviceId: DEVICE, name: 'reboot' }, 'alice');

      expect(await refusalOf(() => sut.onResult(DEVICE, 'no-such-command', answer('succeeded')))).toBe('not_found');
      // Another device's command, open or ended, is not this device's to answer.
      expect(await refusalOf(() => sut.onResult('dev-2', id, answer('succeeded')))).toBe('not_found');
      await sut.onResult(DEVICE, id, answer('succeeded'));
      expect(await refusalOf(() => sut.onResult('dev-2', id, answer('failed')))).toBe('not_found');
      expect(await lateResults()).toBe(0);
      expect(updates.map((u) => u.patch.status)).toEqual(['succeeded']);
    });
  });

  describe('cancel', () => {
    it('cancels a held command, by whom, and stops its ttl', async () => {
      online.clear();
      const { id } = await sut.send({ deviceId: DEVICE, name: 'reboot', ttlMs: 60_000 }, 'alice');

      const cancelled = await sut.cancel(id, 'bob');

      expect(cancelled).toMatchObject({ id, status: 'cancelled' });
      expect(rows.get(id)?.transitions.at(-1)).toEqual({ status: 'cancelled', ts: NOW, by: 'bob' });
      await jest.advanceTimersByTimeAsync(60_000);
      expect(statuses(id)).toEqual(['pending', 'cancelled']);
    });

    it('refuses to cancel a command that is not pending with conflict, open or ended', async () => {
      const { id } = await sut.send({ deviceId: DEVICE, name: 'reboot' }, 'alice');
      expect(await refusalOf(() => sut.cancel(id, 'bob'))).toBe('conflict');
      expect(rows.get(id)?.status).toBe('sent');

      await sut.onResult(DEVICE, id, { status: 'succeeded' });
      expect(await refusalOf(() => sut.cancel(id, 'bob'))).toBe('conflict');
      expect(statuses(id)).toEqual(['sent', 'succeeded']);
    });

    it('refuses an unknown id with not_found', async () => {
      expect(await refusalOf(() => sut.cancel('no-such-command', 'bob'))).toBe('not_found');
    });
  });

  describe('waitForTerminal', () => {
    it('resolves once an open command ends, at once for an ended one, and refuses an unknown id', async () => {
      const { id } = await sut.send({ deviceId: DEVICE, name: 'reboot', timeoutMs: 5_000 }, 'alice');
      let ended: CommandRecord | undefined;
      const waiting = sut.waitForTerminal(id).then((record) => (ended = record));

      await sut.onResult(DEVICE, id, { status: 'accepted' });
      await flush();
      expect(ended).toBeUndefined();
      await jest.advanceTimersByTimeAsync(5_000);
      await waiting;
      expect(ended).toMatchObject({ id, status: 'timed-out' });

      expect(await sut.waitForTerminal(id)).toMatchObject({ id, status: 'timed-out' });
      expect(await refusalOf(() => sut.waitForTerminal('no-such-command'))).toBe('not_found');
    });
  });

  describe('boot', () => {
    const open = (id: string, fields: Partial<CommandRecord>): CommandRecord => ({
      id,
      deviceId: DEVICE,
      name: 'reboot',
      params: {},
      status: 'pending',
      timeoutMs: 30_000,
      issuedAt: NOW - 60_000,
      expiresAt: NOW + 60_000,
      sentAt: null,
      updatedAt: NOW - 60_000,
      createdBy: 'alice',
      ...fields,
    });

    it('finishes overdue open commands at once and arms the others for the rest of their time', async () => {
      const records = [
        open('pending-overdue', { expiresAt: NOW }),
        open('pending-later', { expiresAt: NOW + 1_000 }),
        open('sent-overdue', { status: 'sent', sentAt: NOW - 30_000 }),
        open('accepted-later', { status: 'accepted', sentAt: NOW - 20_000 }),
      ];
      for (const record of records) rows.set(record.id, { ...record, transitions: [] });
      sut = make({ open: async () => records.map((r) => ({ ...r })) });

      await sut.onApplicationBootstrap();
      await flush();
      expect(updates.map((u) => [u.id, u.patch.status])).toEqual([
        ['pending-overdue', 'expired'],
        ['sent-overdue', 'timed-out'],
      ]);

      await jest.advanceTimersByTimeAsync(999);
      expect(updates).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(1);
      expect(updates.map((u) => u.id)).toEqual(['pending-overdue', 'sent-overdue', 'pending-later']);
      expect(rows.get('pending-later')?.status).toBe('expired');

      await jest.advanceTimersByTimeAsync(8_999);
      expect(updates).toHaveLength(3);
      await jest.advanceTimersByTimeAsync(1);
      expect(updates.at(-1)).toMatchObject({ id: 'accepted-later', patch: { status: 'timed-out' } });
      expect(announced.map((u) => [u.commandId, u.status])).toEqual([
        ['pending-overdue', 'expired'],
        ['sent-overdue', 'timed-out'],
        ['pending-later', 'expired'],
        ['accepted-later', 'timed-out'],
      ]);
    });

    it('takes results for a rebuilt command as for any open one', async () => {
      const record = open('sent-rebuilt', { status: 'sent', sentAt: NOW });
      rows.set(record.id, { ...record, transitions: [] });
      sut = make({ open: async () => [{ ...record }] });

      await sut.onApplicationBootstrap();
      await sut.onResult(DEVICE, record.id, { status: 'succeeded' });

      expect(rows.get(record.id)?.status).toBe('succeeded');
      await jest.advanceTimersByTimeAsync(30_000);
      expect(updates).toHaveLength(1);
    });
  });
  describe('with replicas (a shared database)', () => {
    const shared = () => strictFake<ClusterChannel>({ shared: true }, 'cluster');
    const stored = (id: string, fields: Partial<CommandRecord>): CommandWithHistory => ({
      id,
      deviceId: DEVICE,
      name: 'reboot',
      params: {},
      status: 'sent',
      timeoutMs: 5_000,
      issuedAt: NOW,
      expiresAt: NOW + 60_000,
      sentAt: NOW,
      updatedAt: NOW,
      createdBy: 'alice',
      transitions: [],
      ...fields,
    });
    /** Another replica's transition, as the LogFeed puts it on this one's bus. */
    const fromElsewhere = (update: CommandEvent) =>
      bus.emit('committed', [{ seq: 1, type: 'command', deviceId: update.deviceId, data: JSON.stringify(update) }], []);

    it('does not time a command out when its device asked another replica for longer: the stored deadline decides', async () => {
      sut = make({}, shared());
      const record = await sut.send({ deviceId: DEVICE, name: 'firmware.update', timeoutMs: 5_000 }, 'alice');
      // Replica B took the device's `in-progress` with a new timeout and stored it.
      Object.assign(rows.get(record.id)!, { status: 'in-progress', progress: 10, timeoutMs: 60_000 });
      fromElsewhere({
        commandId: record.id,
        deviceId: DEVICE,
        name: 'firmware.update',
        status: 'in-progress',
        progress: 10,
        ts: NOW + 1,
      });

      await jest.advanceTimersByTimeAsync(5_000);
      expect(rows.get(record.id)?.status).toBe('in-progress');
      await jest.advanceTimersByTimeAsync(55_000);
      expect(rows.get(record.id)).toMatchObject({ status: 'timed-out', error: 'no result before the timeout' });
      expect(announced.map((u) => [u.status, u.progress])).toEqual([
        ['sent', undefined],
        ['in-progress', 10],
        ['timed-out', undefined],
      ]);
    });

    it("follows another replica's result of a command sent here: the socket hears it, the wait ends, the timeout is off", async () => {
      sut = make({}, shared());
      const record = await sut.send({ deviceId: DEVICE, name: 'reboot', timeoutMs: 5_000 }, 'alice');
      const terminal = sut.waitForTerminal(record.id);
      // Replica B took the device's answer and stored it.
      Object.assign(rows.get(record.id)!, { status: 'succeeded', result: { ok: true } });
      fromElsewhere({ commandId: record.id, deviceId: DEVICE, name: 'reboot', status: 'succeeded', result: { ok: true }, ts: NOW + 5 });

      expect(await terminal).toMatchObject({ status: 'succeeded', result: { ok: true } });
      expect(announced.map((u) => u.status)).toEqual(['sent', 'succeeded']);
      await jest.advanceTimersByTimeAsync(10_000);
      expect(updates).toEqual([]);
      // Its own transitions coming back through the log are not announced twice.
      fromElsewhere({ commandId: record.id, deviceId: DEVICE, name: 'reboot', status: 'succeeded', ts: NOW + 5 });
      await flush();
      expect(announced).toHaveLength(2);
    });

    it('a timeout that loses the race to a result stored by another replica writes nothing and ends the command as stored', async () => {
      sut = make({}, shared());
      const record = await sut.send({ deviceId: DEVICE, name: 'reboot', timeoutMs: 5_000 }, 'alice');
      const terminal = sut.waitForTerminal(record.id);
      // Stored by replica B; its event has not reached this one yet.
      Object.assign(rows.get(record.id)!, { status: 'failed', error: 'jammed' });

      await jest.advanceTimersByTimeAsync(5_000);
      expect(await terminal).toMatchObject({ status: 'failed', error: 'jammed' });
      expect(updates).toEqual([]);
      expect(appended.map((e) => JSON.parse(e.data).status)).toEqual(['sent']);
      // The socket that sent it hears the stored end now, and once: its event through the log changes nothing.
      expect(announced.map((u) => [u.status, u.error])).toEqual([
        ['sent', undefined],
        ['failed', 'jammed'],
      ]);
      fromElsewhere({ commandId: record.id, deviceId: DEVICE, name: 'reboot', status: 'failed', error: 'jammed', ts: NOW + 1 });
      await flush();
      expect(announced).toHaveLength(2);
    });

    it('a result that loses the race to another replica announces what was stored', async () => {
      sut = make({}, shared());
      const record = await sut.send({ deviceId: DEVICE, name: 'reboot' }, 'alice');
      // Replica B stored the device's `succeeded`; this one took its `accepted`, sent a moment before.
      Object.assign(rows.get(record.id)!, { status: 'succeeded', result: 1 });

      await sut.onResult(DEVICE, record.id, { status: 'accepted' });
      expect(updates).toEqual([]);
      expect(announced.map((u) => u.status)).toEqual(['sent', 'succeeded']);
      expect(await sut.waitForTerminal(record.id)).toMatchObject({ status: 'succeeded', result: 1 });
    });

    it('takes a result for a command another replica sent, writing it from the status stored', async () => {
      rows.set('elsewhere', stored('elsewhere', { status: 'accepted' }));
      sut = make({}, shared());

      await sut.onResult(DEVICE, 'elsewhere', { status: 'succeeded', result: 7 });
      expect(statuses('elsewhere')).toEqual(['succeeded']);
      expect(rows.get('elsewhere')).toMatchObject({ status: 'succeeded', result: 7 });
      expect(announced.map((u) => [u.commandId, u.status])).toEqual([['elsewhere', 'succeeded']]);
      // A repeat finds it ended.
      await sut.onResult(DEVICE, 'elsewhere', { status: 'succeeded', result: 7 });
      expect(updates).toHaveLength(1);
      expect(await lateResults()).toBe(1);
    });

    it('delivers the commands another replica holds for a device that came online here', async () => {
      rows.set('held', stored('held', { status: 'pending', sentAt: null }));
      sut = make({ pending: async (id) => [...rows.values()].filter((r) => r.deviceId === id && r.status === 'pending') }, shared());

      sut.deliverPending(DEVICE);
      await flush();
      expect(rows.get('held')).toMatchObject({ status: 'sent', sentAt: NOW });
      expect(published.map((p) => p.topic)).toEqual([`devices/${DEVICE}/commands/held`]);
    });

    it('delivers a command held here once the device comes online through another replica', async () => {
      sut = make({}, shared());
      online.clear();
      const record = await sut.send({ deviceId: DEVICE, name: 'reboot' }, 'alice');
      expect(record.status).toBe('pending');
      const status = { deviceId: DEVICE, online: true, ts: NOW + 1 };
      bus.emit('committed', [{ seq: 9, type: 'status', deviceId: DEVICE, data: JSON.stringify(status) }], []);
      await flush();
      expect(rows.get(record.id)).toMatchObject({ status: 'sent', sentAt: NOW });
      expect(published.map((p) => p.topic)).toEqual([`devices/${DEVICE}/commands/${record.id}`]);
    });

    it('sweeps the overdue commands of a replica that died, each ended once', async () => {
      rows.set('orphan', stored('orphan', { sentAt: NOW - 10_000 }));
      rows.set('orphan-held', stored('orphan-held', { status: 'pending', sentAt: null, expiresAt: NOW - 2_000 }));
      const overdue = async (now: number) =>
        [...rows.values()].filter(
          (r) =>
            !['succeeded', 'failed', 'timed-out', 'expired', 'cancelled'].includes(r.status) &&
            (r.status === 'pending' ? r.expiresAt : (r.sentAt ?? r.issuedAt) + r.timeoutMs) <= now,
        );
      sut = make({ open: async () => [], overdue }, shared());
      await sut.onApplicationBootstrap();

      await jest.advanceTimersByTimeAsync(SWEEP_MS);
      expect(updates.map((u) => [u.id, u.patch.status])).toEqual([
        ['orphan', 'timed-out'],
        ['orphan-held', 'expired'],
      ]);
      await jest.advanceTimersByTimeAsync(SWEEP_MS * 3);
      expect(updates).toHaveLength(2);
      await sut.onApplicationShutdown();
    });
  });
});
