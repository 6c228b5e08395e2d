import type { AlarmEvent } from '@iot/protocol';
import type { AlarmRecord, AlarmRepository, AlarmRule, AlarmRuleRepository, NewAlarm } from '../../domain/alarms';
import type { ClusterChannel } from '../../domain/cluster';
import type { DeviceRecord, DeviceRepository, ListedDevice } from '../../domain/devices';
import { deviceEvents, type NewEvent, type StoredEvent } from '../../domain/events';
import type { ModelRepository } from '../../domain/models';
import { strictFake } from '../../domain/testing';
import { MetricsService } from '../../platform/metrics/metrics.service';
import { EventBus } from '../events/event-bus';
import type { EventLog } from '../events/event-log.service';
import { AlarmEngine } from './alarm-engine.service';

const NOW = 1_700_000_000_000;

const rule: AlarmRule = {
  id: 'r1',
  name: 'hot',
  severity: 'critical',
  enabled: true,
  target: { labels: 'site=a' },
  condition: { kind: 'above', key: 't', threshold: 24, hysteresis: 0, forMs: 0 },
  createdAt: 1,
  updatedAt: 1,
};

function record(alarm: NewAlarm, id: string, status: AlarmRecord['status'] = 'raised'): AlarmRecord {
  return {
    id,
    ...alarm,
    status,
    raisedAt: alarm.ts,
    acknowledgedAt: null,
    acknowledgedBy: null,
    clearedAt: null,
    clearedBy: null,
  };
}

describe('AlarmEngine', () => {
  let bus: EventBus;
  let appended: NewEvent[];
  let raises: NewAlarm[];
  /** Whether this replica's raise lands (another replica's did when false). */
  let lands: boolean;
  let metrics: MetricsService;
  let sut: AlarmEngine;
  let seq: number;

  const commit = (...events: NewEvent[]) =>
    bus.emit(
      'committed',
      events.map((e): StoredEvent => ({ seq: ++seq, type: e.type, deviceId: e.deviceId, data: e.data })),
      events.map(() => NOW),
    );
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  beforeEach(async () => {
    jest.useFakeTimers({ now: NOW, doNotFake: ['setImmediate'] });
    bus = new EventBus();
    appended = [];
    raises = [];
    lands = true;
    seq = 0;
    metrics = new MetricsService();
    const alarms = strictFake<AlarmRepository>(
      {
        open: async () => [],
        raise: async (alarm) => {
          raises.push(alarm);
          return lands ? record(alarm, String(raises.length)) : undefined;
        },
        transition: async (id, _from, to, step) => ({
          ...record({ ruleId: 'r1', ruleName: 'hot', deviceId: 'd1', severity: 'critical', message: 'x', ts: 1 }, id),
          status: to,
          clearedAt: step.ts,
        }),
      },
      'alarms',
    );
    const devices = strictFake<DeviceRepository>(
      {
        list: async ({ afterId }) => (afterId ? [] : [{ id: 'd1', labels: { site: 'a' }, model: null } as unknown as ListedDevice]),
        onlineIds: async () => ['d1'],
        get: async (id) => ({ id, labels: { site: 'a' } }) as unknown as DeviceRecord,
      },
      'devices',
    );
    const models = strictFake<ModelRepository>(
      { assignments: async () => [], assigned: async () => undefined },
      'models',
    );
    const log = strictFake<EventLog>({ append: (event) => appended.push(event) > 0 }, 'log');
    sut = new AlarmEngine(
      strictFake<AlarmRuleRepository>({ list: async () => [rule] }, 'rules'),
      alarms,
      devices,
      models,
      log,
      bus,
      strictFake<ClusterChannel>({ shared: false }, 'cluster'),
      metrics,
    );
    await sut.onApplicationBootstrap();
  });

  afterEach(() => {
    sut.onApplicationShutdown();
    jest.useRealTimers();
  });

  it('raises on a committed telemetry event, appends the alarm event, counts it, and clears when the condition ends', async () => {
    commit(deviceEvents.telemetry('d1', NOW, { t: 25 }));
    await settle();
    expect(raises).toEqual([
      { ruleId: 'r1', ruleName: 'hot', deviceId: 'd1', severity: 'critical', message: 't 25 above 24', ts: NOW },
    ]);
    expect(appended.map((e) => JSON.parse(e.data) as AlarmEvent)).toEqual([
      expect.objectContaining({ alarmId: '1', status: 'raised', key: 't', value: 25, message: 't 25 above 24' }),
    ]);
    expect((await metrics.alarmsRaised.get()).values).toEqual([{ labels: { severity: 'critical' }, value: 1 }]);

    // The alarm event comes back through the log: the gauge follows it.
    commit(appended[0]);
    expect((await metrics.alarmsOpen.get()).values[0].value).toBe(1);
    commit(deviceEvents.telemetry('d1', NOW, { t: 20 }));
    await settle();
    expect(appended.map((e) => (JSON.parse(e.data) as AlarmEvent).status)).toEqual(['raised', 'cleared']);
    commit(appended[1]);
    expect((await metrics.alarmsOpen.get()).values[0].value).toBe(0);
  });

  it('appends nothing when another replica raised first, and takes that alarm from the log', async () => {
    lands = false;
    commit(deviceEvents.telemetry('d1', NOW, { t: 25 }));
    await settle();
    expect(raises).toHaveLength(1);
    expect(appended).toEqual([]);
    expect((await metrics.alarmsRaised.get()).values).toEqual([]);
    const theirs: AlarmEvent = {
      alarmId: '9',
      ruleId: 'r1',
      ruleName: 'hot',
      deviceId: 'd1',
      severity: 'critical',
      status: 'raised',
      message: 'x',
      ts: NOW,
    };
    commit(deviceEvents.alarm(theirs));
    commit(deviceEvents.telemetry('d1', NOW, { t: 1 }));
    await settle();
    expect(appended.map((e) => JSON.parse(e.data) as AlarmEvent)).toEqual([
      expect.objectContaining({ alarmId: '9', status: 'cleared' }),
    ]);
  });
});
