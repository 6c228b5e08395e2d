import type { MqttClient } from 'mqtt';
import type {
  AlarmListResponse,
  AlarmRuleView,
  AlarmView,
  AlarmWithHistory,
  CreateDeviceResponse,
  DeviceListResponse,
} from '@iot/protocol';
import { api, connectDevice, createUser, metric, startApp, StreamRecorder, type TestApp } from './harness';

describe('alarms (e2e)', () => {
  let app: TestApp;
  let operator: string;
  let viewer: string;
  let device: MqttClient;
  const streams: StreamRecorder[] = [];

  const stream = (query: string, lastEventId?: string) => {
    const recorder = new StreamRecorder(app, app.adminToken, query, lastEventId);
    streams.push(recorder);
    return recorder;
  };
  const send = (temperature: number) =>
    device.publishAsync('devices/th-1/telemetry', JSON.stringify({ temperature }), { qos: 1 });

  beforeAll(async () => {
    app = await startApp();
    operator = await createUser(app, 'olga', 'operator');
    viewer = await createUser(app, 'vic', 'viewer');
    for (const [id, site] of [
      ['th-1', 'a'],
      ['th-2', 'b'],
    ]) {
      const { status, body } = await api<CreateDeviceResponse>(app, app.adminToken, 'POST', '/devices', {
        id,
        name: id,
        type: 'thermostat',
        labels: { site },
      });
      expect(status).toBe(201);
      if (id === 'th-1') device = await connectDevice(app, body.credentials);
    }
  });

  afterEach(() => {
    for (const recorder of streams.splice(0)) recorder.close();
  });

  afterAll(async () => {
    await device?.endAsync();
    await app?.stop();
  });

  it('raises a rule live, is acknowledged, clears by its condition and by hand, and resumes from Last-Event-ID', async () => {
    const rule = {
      name: 'too warm',
      severity: 'major',
      target: { labels: 'site=a' },
      condition: { kind: 'above', key: 'temperature', threshold: 24, hysteresis: 0.5, forMs: 1_000 },
    };
    expect((await api(app, viewer, 'POST', '/alarm-rules', rule)).status).toBe(403);
    const bad = await api(app, operator, 'POST', '/alarm-rules', {
      ...rule,
      condition: { ...rule.condition, forMs: 8 * 86_400_000 },
    });
    expect(bad.status).toBe(400);
    const created = await api<AlarmRuleView>(app, operator, 'POST', '/alarm-rules', rule);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'too warm', enabled: true, condition: { forMs: 1_000 } });
    const listed = await api<{ items: AlarmRuleView[] }>(app, viewer, 'GET', '/alarm-rules');
    expect(listed.body.items.map((r) => r.id)).toEqual([created.body.id]);

    const live = stream('?events=alarm');
    await live.opened();
    const sentAt = Date.now();
    await send(24);
    await send(25);
    const [raised] = await live.waitFor((events) => events.length >= 1, 5_000);
    // Held for the rule's second before it was raised.
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1_000);
    expect(raised.data).toMatchObject({
      ruleId: created.body.id,
      ruleName: 'too warm',
      deviceId: 'th-1',
      severity: 'major',
      status: 'raised',
      key: 'temperature',
      value: 25,
      message: 'temperature 25 above 24 for 1 s',
    });
    const alarmId = raised.data['alarmId'] as string;

    const fleet = await api<DeviceListResponse>(app, viewer, 'GET', '/devices');
    expect(Object.fromEntries(fleet.body.items.map((d) => [d.id, d.alarms]))).toEqual({ 'th-1': 1, 'th-2': 0 });
    expect(await metric(app, 'iot_alarms_raised_total{severity="major"}')).toBe(1);
    expect(await metric(app, 'iot_alarms_open')).toBe(1);

    expect((await api(app, viewer, 'POST', `/alarms/${alarmId}/acknowledge`, {})).status).toBe(403);
    const acked = await api<AlarmView>(app, operator, 'POST', `/alarms/${alarmId}/acknowledge`, { note: 'on my way' });
    expect(acked.status).toBe(200);
    expect(acked.body).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'olga' });
    const again = await api<{ message: string }>(app, operator, 'POST', `/alarms/${alarmId}/acknowledge`, {});
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/acknowledged/);
    await live.waitFor((events) => events.length >= 2);
    expect(live.events[1].data).toMatchObject({ alarmId, status: 'acknowledged', by: 'olga', note: 'on my way' });

    // Within the hysteresis: still open. At threshold - hysteresis: cleared by the condition.
    await send(23.8);
    await send(23.5);
    await live.waitFor((events) => events.length >= 3);
    expect(live.events[2].data).toMatchObject({ alarmId, status: 'cleared', value: 23.5 });
    expect(live.events[2].data['by']).toBeUndefined();

    const history = await api<AlarmWithHistory>(app, viewer, 'GET', `/alarms/${alarmId}`);
    expect(history.body).toMatchObject({ status: 'cleared', acknowledgedBy: 'olga', clearedBy: null });
    expect(history.body.transitions.map((t) => [t.status, t.by, t.note])).toEqual([
      ['raised', null, null],
      ['acknowledged', 'olga', 'on my way'],
      ['cleared', null, null],
    ]);

    // Raised again, then cleared by hand; a clear of a cleared alarm is a conflict.
    await send(26);
    await live.waitFor((events) => events.length >= 4, 5_000);
    const second = live.events[3].data['alarmId'] as string;
    expect(second).not.toBe(alarmId);
    const cleared = await api<AlarmView>(app, operator, 'POST', `/alarms/${second}/clear`, { note: 'known issue' });
    expect(cleared.body).toMatchObject({ status: 'cleared', clearedBy: 'olga' });
    // Without a body at all, as curl -X POST sends it.
    expect((await api(app, operator, 'POST', `/alarms/${second}/clear`)).status).toBe(409);
    expect((await api(app, operator, 'POST', `/alarms/${second}/clear`, { note: 5 })).status).toBe(400);
    expect((await api(app, operator, 'POST', '/alarms/424242/clear', {})).status).toBe(404);
    await live.waitFor((events) => events.length >= 5);
    expect(live.events[4].data).toMatchObject({ alarmId: second, status: 'cleared', by: 'olga', note: 'known issue' });

    // Still above the threshold after a clear by hand: no new alarm until the condition ends and comes back.
    await send(27);
    await send(20);
    await send(28);
    await live.waitFor((events) => events.length >= 6, 5_000);
    expect(live.events[5].data).toMatchObject({ status: 'raised', value: 28 });

    // A stream resumed after the first event replays the rest, in order, with the same ids.
    const resumed = stream('?events=alarm', raised.id);
    await resumed.waitFor((events) => events.length >= 5);
    expect(resumed.events.map((e) => e.id)).toEqual(live.events.slice(1, 6).map((e) => e.id));

    const page = await api<AlarmListResponse>(app, viewer, 'GET', '/alarms?deviceId=th-1&limit=2');
    expect(page.body.items).toHaveLength(2);
    expect(page.body.items[0].status).toBe('raised');
    const rest = await api<AlarmListResponse>(
      app,
      viewer,
      'GET',
      `/alarms?deviceId=th-1&cursor=${page.body.nextCursor}`,
    );
    expect(rest.body.items.map((a) => a.id)).toEqual([alarmId]);
    const active = await api<AlarmListResponse>(app, viewer, 'GET', '/alarms?active=true');
    expect(active.body.items).toHaveLength(1);

    // Deleting the rule clears its open alarm.
    expect((await api(app, operator, 'DELETE', `/alarm-rules/${created.body.id}`)).status).toBe(204);
    await live.waitFor((events) => events.length >= 7);
    expect(live.events[6].data).toMatchObject({ status: 'cleared', by: 'olga', note: 'the rule was deleted' });
    expect((await api<AlarmListResponse>(app, viewer, 'GET', '/alarms?active=true')).body.items).toEqual([]);

    const audit = await api<{ items: Array<{ action: string; actor: string; target: string }> }>(
      app,
      app.adminToken,
      'GET',
      '/audit?action=alarm.acknowledge',
    );
    expect(audit.body.items.map((e) => [e.actor, e.target])).toContainEqual(['olga', alarmId]);
  });

  it('raises an offline alarm when a device stays offline, and clears it when it is back', async () => {
    const created = await api<AlarmRuleView>(app, operator, 'POST', '/alarm-rules', {
      name: 'gone',
      severity: 'critical',
      target: { deviceId: 'th-1' },
      condition: { kind: 'offline', forMs: 500 },
    });
    expect(created.status).toBe(201);
    const live = stream('?events=alarm');
    await live.opened();
    const credentials = await api<{ username: string; password: string }>(
      app,
      app.adminToken,
      'POST',
      '/devices/th-1/credentials',
    );
    // New credentials drop the session: the device is offline.
    await live.waitFor((events) => events.some((e) => e.data['status'] === 'raised'), 5_000);
    expect(live.events[0].data).toMatchObject({
      deviceId: 'th-1',
      severity: 'critical',
      message: 'th-1 offline for 500 ms',
    });
    device = await connectDevice(app, credentials.body);
    await live.waitFor((events) => events.some((e) => e.data['status'] === 'cleared'), 5_000);
    expect(live.events[1].data).toMatchObject({ status: 'cleared', message: 'th-1 is back online' });
  });
});
