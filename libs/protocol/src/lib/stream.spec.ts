import {
  DEVICE_EVENT_NAMES,
  STREAM_HEARTBEAT_MS,
  STREAM_PATH,
  commandEventSchema,
  isDeviceEventName,
  resetEventSchema,
  stateEventSchema,
  statusEventSchema,
  streamEventSchemas,
  telemetryEventSchema,
} from './stream';

const TS = 1764236400000;
const ok = (schema: { safeParse(v: unknown): { success: boolean } }, value: unknown) => schema.safeParse(value).success;

describe('streamEventSchemas', () => {
  it('has exactly the events of the contract', () => {
    expect(Object.keys(streamEventSchemas).sort()).toEqual([
      'alarm',
      'command',
      'reset',
      'state',
      'status',
      'telemetry',
    ]);
  });

  it.each<[keyof typeof streamEventSchemas, unknown]>([
    ['telemetry', { deviceId: 'd1', ts: TS, values: { temperature: 21.5, on: true, mode: 'eco' } }],
    ['status', { deviceId: 'd1', online: true, ts: TS }],
    ['status', { deviceId: 'd1', online: false, ts: TS }],
    ['state', { deviceId: 'd1', version: 3, ts: TS }],
    ['state', { deviceId: 'd1', reported: { a: 1 }, desired: { a: 2 }, version: 3, ts: TS }],
    ['command', { commandId: 'c1', deviceId: 'd1', name: 'reboot', status: 'sent', ts: TS }],
    ['command', { commandId: 'c1', deviceId: 'd1', name: 'reboot', status: 'succeeded', result: { up: 1 }, ts: TS }],
    ['command', { commandId: 'c1', deviceId: 'd1', name: 'reboot', status: 'failed', error: 'no', ts: TS }],
    ['reset', { reason: 'resume point is gone' }],
  ])('%s accepts %j', (event, data) => {
    expect(streamEventSchemas[event].parse(data)).toEqual(data);
  });

  it('maps each event to its schema', () => {
    expect(streamEventSchemas.telemetry).toBe(telemetryEventSchema);
    expect(streamEventSchemas.status).toBe(statusEventSchema);
    expect(streamEventSchemas.state).toBe(stateEventSchema);
    expect(streamEventSchemas.command).toBe(commandEventSchema);
    expect(streamEventSchemas.reset).toBe(resetEventSchema);
  });
});

describe('telemetryEventSchema', () => {
  it.each<[unknown, string]>([
    [{ ts: TS, values: { a: 1 } }, 'no deviceId'],
    [{ deviceId: 'd1', values: { a: 1 } }, 'no ts'],
    [{ deviceId: 'd1', ts: '2025-11-27T09:40:00Z', values: { a: 1 } }, 'ISO ts (events carry epoch ms)'],
    [{ deviceId: 'd1', ts: TS }, 'no values'],
    [{ deviceId: 'd1', ts: TS, values: {} }, 'empty values'],
    [{ deviceId: 'd1', ts: TS, values: { '1a': 1 } }, 'bad key'],
    [{ deviceId: 'd1', ts: TS, values: { a: null } }, 'null value'],
    [{ deviceId: 'd1', ts: TS, values: { a: { b: 1 } } }, 'nested value'],
    [{ deviceId: 'd1', ts: TS, values: { a: 'x'.repeat(257) } }, 'long string'],
  ])('refuses %j (%s)', (v) => expect(ok(telemetryEventSchema, v)).toBe(false));
});

describe('statusEventSchema', () => {
  it.each<[unknown, string]>([
    [{ deviceId: 'd1', online: 'online', ts: TS }, 'online as a string'],
    [{ deviceId: 'd1', ts: TS }, 'no online'],
    [{ online: true, ts: TS }, 'no deviceId'],
    [{ deviceId: 'd1', online: true }, 'no ts'],
  ])('refuses %j (%s)', (v) => expect(ok(statusEventSchema, v)).toBe(false));
});

describe('stateEventSchema', () => {
  it.each<[unknown, string]>([
    [{ deviceId: 'd1', ts: TS }, 'no version'],
    [{ deviceId: 'd1', version: 1 }, 'no ts'],
    [{ deviceId: 'd1', version: 1, ts: TS, reported: [] }, 'array reported'],
    [{ deviceId: 'd1', version: 1, ts: TS, desired: 'x' }, 'string desired'],
  ])('refuses %j (%s)', (v) => expect(ok(stateEventSchema, v)).toBe(false));
});

describe('commandEventSchema', () => {
  const valid = { commandId: 'c1', deviceId: 'd1', name: 'reboot', status: 'sent', ts: TS };
  it.each<[string, Record<string, unknown>]>([
    ['an unknown status', { status: 'done' }],
    ['no commandId', { commandId: undefined }],
    ['no deviceId', { deviceId: undefined }],
    ['no name', { name: undefined }],
    ['no ts', { ts: undefined }],
    ['a non-string error', { error: 5 }],
  ])('refuses %s', (_what, patch) => {
    expect(ok(commandEventSchema, { ...valid, ...patch })).toBe(false);
  });

  it.each(['pending', 'sent', 'accepted', 'in-progress', 'succeeded', 'failed', 'timed-out', 'expired', 'cancelled'])(
    'accepts status %p',
    (status) => expect(ok(commandEventSchema, { ...valid, status })).toBe(true),
  );
});

describe('resetEventSchema', () => {
  it.each<[unknown]>([[{}], [{ reason: 5 }], [null]])('refuses %j', (v) => expect(ok(resetEventSchema, v)).toBe(false));
});

describe('DEVICE_EVENT_NAMES / isDeviceEventName', () => {
  it('lists the device events, not reset', () => {
    expect([...DEVICE_EVENT_NAMES].sort()).toEqual(['alarm', 'command', 'state', 'status', 'telemetry']);
  });
  it.each([
    ['telemetry', true],
    ['status', true],
    ['state', true],
    ['command', true],
    ['alarm', true],
    ['reset', false],
    ['Telemetry', false],
    ['', false],
    ['telemetry,status', false],
    ['toString', false],
  ])('%p → %p', (name, expected) => expect(isDeviceEventName(name)).toBe(expected));
});

describe('stream constants', () => {
  it('serves the stream at /stream below the API base path', () => {
    expect(STREAM_PATH).toBe('/stream');
  });
  it('sends a heartbeat at least every 15 s', () => {
    expect(STREAM_HEARTBEAT_MS).toBeGreaterThan(0);
    expect(STREAM_HEARTBEAT_MS).toBeLessThanOrEqual(15_000);
  });
});
