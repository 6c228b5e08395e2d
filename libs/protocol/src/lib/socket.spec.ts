import { API_BASE_PATH, sendCommandSchema } from './api';
import {
  SOCKET_PATH,
  WS_CLOSE,
  clientFrameSchemas,
  commandCancelSchema,
  commandSendSchema,
  errorCodeForStatus,
  errorCodeSchema,
  frameEnvelopeSchema,
  isClientFrameName,
  isServerFrameName,
  serverFrameSchemas,
  stateDesiredSetSchema,
} from './socket';

const x = (n: number, c = 'a') => c.repeat(n);
const TS = 1764236400000;
const ok = (schema: { safeParse(v: unknown): { success: boolean } }, value: unknown) => schema.safeParse(value).success;

describe('frameEnvelopeSchema', () => {
  it.each<[unknown]>([
    [{ event: 'command.send', data: { requestId: 'r1' } }],
    [{ event: 'x', data: {} }],
    [{ event: x(64), data: null }],
  ])('accepts %j', (v) => expect(frameEnvelopeSchema.parse(v)).toEqual(v));

  it.each<[unknown, string]>([
    [{ data: {} }, 'no event'],
    [{ event: '', data: {} }, 'empty event'],
    [{ event: x(65), data: {} }, 'event over 64 characters'],
    [{ event: 5, data: {} }, 'numeric event'],
    [{ event: 'command.send' }, 'no data'],
    [null, 'null'],
    [[], 'array'],
    ['command.send', 'string'],
  ])('refuses %j (%s)', (v) => expect(ok(frameEnvelopeSchema, v)).toBe(false));
});

describe('clientFrameSchemas', () => {
  it('has exactly the client → server events of the contract', () => {
    expect(Object.keys(clientFrameSchemas).sort()).toEqual(['command.cancel', 'command.send', 'state.desired.set']);
    expect(clientFrameSchemas['command.send']).toBe(commandSendSchema);
    expect(clientFrameSchemas['command.cancel']).toBe(commandCancelSchema);
    expect(clientFrameSchemas['state.desired.set']).toBe(stateDesiredSetSchema);
  });
});

describe('isClientFrameName', () => {
  it.each(['command.send', 'command.cancel', 'state.desired.set'])('knows %s', (name) => {
    expect(isClientFrameName(name)).toBe(true);
  });

  it.each([
    'constructor',
    '__proto__',
    'toString',
    'hasOwnProperty',
    'valueOf',
    'isPrototypeOf',
    '__defineGetter__',
    'command.status',
    'error',
  ])('refuses %s (inherited by every object, or not a client event)', (name) => {
    expect(isClientFrameName(name)).toBe(false);
  });
});

describe('isServerFrameName', () => {
  it('knows the server → client events and no inherited name', () => {
    expect(['command.status', 'state.result', 'error'].every(isServerFrameName)).toBe(true);
    expect(['constructor', '__proto__', 'toString', 'command.send'].some(isServerFrameName)).toBe(false);
  });
});

describe('commandSendSchema', () => {
  const minimal = { requestId: 'r1', deviceId: 'dev-1', name: 'reboot' };

  it('is the REST command body with a requestId and a deviceId', () => {
    expect(Object.keys(commandSendSchema.shape)).toEqual([
      'requestId',
      'deviceId',
      ...Object.keys(sendCommandSchema.shape),
    ]);
    for (const key of Object.keys(sendCommandSchema.shape) as Array<keyof typeof sendCommandSchema.shape>) {
      expect(commandSendSchema.shape[key]).toBe(sendCommandSchema.shape[key]);
    }
  });

  it.each<[string, Record<string, unknown>]>([
    ['the minimal request', {}],
    ['params', { params: { delay: 5, nested: { a: [1] } } }],
    ['empty params', { params: {} }],
    ['timeoutMs at its minimum', { timeoutMs: 100 }],
    ['timeoutMs at its maximum (1 day)', { timeoutMs: 86_400_000 }],
    ['ttlMs 0', { ttlMs: 0 }],
    ['ttlMs at its maximum (30 days)', { ttlMs: 30 * 86_400_000 }],
    ['a 128-character requestId', { requestId: x(128) }],
    ['a 64-character device id', { deviceId: x(64) }],
    ['a 64-character command name', { name: x(64) }],
    ['params of exactly 64 KiB', { params: { p: x(64 * 1024 - 8) } }],
  ])('accepts %s', (_what, patch) => {
    const frame = { ...minimal, ...patch };
    expect(commandSendSchema.parse(frame)).toEqual(frame);
  });

  it.each<[string, Record<string, unknown>]>([
    ['no requestId', { requestId: undefined }],
    ['an empty requestId', { requestId: '' }],
    ['a 129-character requestId', { requestId: x(129) }],
    ['a numeric requestId', { requestId: 1 }],
    ['no deviceId', { deviceId: undefined }],
    ['a wildcard deviceId', { deviceId: '+' }],
    ['a deviceId with a slash', { deviceId: 'a/b' }],
    ['a 65-character deviceId', { deviceId: x(65) }],
    ['a deviceId starting with _', { deviceId: '_a' }],
    ['no name', { name: undefined }],
    ['a name starting with a digit', { name: '1reboot' }],
    ['a 65-character name', { name: x(65) }],
    ['array params', { params: [1] }],
    ['string params', { params: 'x' }],
    ['params over 64 KiB', { params: { p: x(64 * 1024 - 7) } }],
    ['timeoutMs below 100', { timeoutMs: 99 }],
    ['timeoutMs over a day', { timeoutMs: 86_400_001 }],
    ['fractional timeoutMs', { timeoutMs: 1000.5 }],
    ['string timeoutMs', { timeoutMs: '1000' }],
    ['negative ttlMs', { ttlMs: -1 }],
    ['ttlMs over 30 days', { ttlMs: 30 * 86_400_000 + 1 }],
  ])('refuses %s', (_what, patch) => {
    expect(ok(commandSendSchema, { ...minimal, ...patch })).toBe(false);
  });
});

describe('commandCancelSchema', () => {
  it.each<[unknown]>([[{ requestId: 'r1', commandId: '01JDQ7Z8X5K3M2N4P6R8T0V2W4' }], [{ requestId: 'r', commandId: x(64) }]])(
    'accepts %j',
    (v) => expect(commandCancelSchema.parse(v)).toEqual(v),
  );
  it.each<[unknown, string]>([
    [{ commandId: 'c1' }, 'no requestId'],
    [{ requestId: 'r1' }, 'no commandId'],
    [{ requestId: 'r1', commandId: '' }, 'empty commandId'],
    [{ requestId: 'r1', commandId: x(65) }, '65-character commandId'],
    [{ requestId: '', commandId: 'c1' }, 'empty requestId'],
  ])('refuses %j (%s)', (v) => expect(ok(commandCancelSchema, v)).toBe(false));
});

describe('stateDesiredSetSchema', () => {
  it.each<[unknown]>([
    [{ requestId: 'r1', deviceId: 'd1', patch: { setpoint: 21 } }],
    [{ requestId: 'r1', deviceId: 'd1', patch: { remove: null }, expectedVersion: 0 }],
    [{ requestId: 'r1', deviceId: 'd1', patch: {}, expectedVersion: 7 }],
  ])('accepts %j', (v) => expect(stateDesiredSetSchema.parse(v)).toEqual(v));

  it.each<[unknown, string]>([
    [{ deviceId: 'd1', patch: {} }, 'no requestId'],
    [{ requestId: 'r1', patch: {} }, 'no deviceId'],
    [{ requestId: 'r1', deviceId: '#', patch: {} }, 'wildcard deviceId'],
    [{ requestId: 'r1', deviceId: 'd1' }, 'no patch'],
    [{ requestId: 'r1', deviceId: 'd1', patch: [] }, 'array patch'],
    [{ requestId: 'r1', deviceId: 'd1', patch: null }, 'null patch'],
    [{ requestId: 'r1', deviceId: 'd1', patch: {}, expectedVersion: -1 }, 'negative expectedVersion'],
    [{ requestId: 'r1', deviceId: 'd1', patch: {}, expectedVersion: 1.5 }, 'fractional expectedVersion'],
    [{ requestId: 'r1', deviceId: 'd1', patch: {}, expectedVersion: '7' }, 'string expectedVersion'],
  ])('refuses %j (%s)', (v) => expect(ok(stateDesiredSetSchema, v)).toBe(false));

  it('passes the patch on as parsed, so a __proto__ key in it can still be seen and refused', () => {
    const frame = JSON.parse('{"requestId":"r1","deviceId":"d1","patch":{"__proto__":{"x":1}}}') as { patch: object };
    const parsed = stateDesiredSetSchema.parse(frame);
    expect(parsed.patch).toBe(frame.patch);
    expect(Object.keys(parsed.patch)).toEqual(['__proto__']);
  });
});

describe('errorCodeSchema', () => {
  const codes = ['bad_request', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'rate_limited', 'internal'];
  it('has exactly the codes of the contract', () => {
    expect([...errorCodeSchema.options].sort()).toEqual([...codes].sort());
  });
  it.each([['bad-request'], ['BAD_REQUEST'], ['error'], ['']])('refuses %p', (c) =>
    expect(ok(errorCodeSchema, c)).toBe(false),
  );
});

describe('errorCodeForStatus', () => {
  it.each([
    [400, 'bad_request'],
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'not_found'],
    [409, 'conflict'],
    [412, 'conflict'],
    [413, 'bad_request'],
    [429, 'rate_limited'],
    [500, 'internal'],
    [503, 'internal'],
  ])('gives %p the code %p', (status, code) => expect(errorCodeForStatus(status)).toBe(code));
});

describe('serverFrameSchemas', () => {
  it('has exactly the server → client events of the contract', () => {
    expect(Object.keys(serverFrameSchemas).sort()).toEqual(['command.status', 'error', 'state.result']);
  });

  it.each<[keyof typeof serverFrameSchemas, unknown]>([
    ['command.status', { requestId: 'r1', commandId: 'c1', deviceId: 'd1', name: 'reboot', status: 'sent', ts: TS }],
    ['command.status', { commandId: 'c1', deviceId: 'd1', name: 'reboot', status: 'cancelled', ts: TS }],
    [
      'command.status',
      { requestId: 'r1', commandId: 'c1', deviceId: 'd1', name: 'reboot', status: 'succeeded', result: [1], ts: TS },
    ],
    ['command.status', { commandId: 'c1', deviceId: 'd1', name: 'reboot', status: 'failed', error: 'no', ts: TS }],
    ['state.result', { requestId: 'r1', deviceId: 'd1', version: 8 }],
    ['error', { requestId: 'r1', code: 'not_found', message: 'no device d9' }],
    ['error', { code: 'bad_request', message: 'frame is not JSON' }],
  ])('%s accepts %j', (event, data) => {
    expect(serverFrameSchemas[event].parse(data)).toEqual(data);
  });

  it.each<[keyof typeof serverFrameSchemas, unknown, string]>([
    ['command.status', { commandId: 'c1', deviceId: 'd1', name: 'reboot', status: 'done', ts: TS }, 'unknown status'],
    ['command.status', { commandId: 'c1', deviceId: 'd1', name: 'reboot', status: 'sent' }, 'no ts'],
    ['command.status', { deviceId: 'd1', name: 'reboot', status: 'sent', ts: TS }, 'no commandId'],
    ['state.result', { deviceId: 'd1', version: 8 }, 'no requestId (always a direct reply)'],
    ['state.result', { requestId: 'r1', deviceId: 'd1' }, 'no version'],
    ['error', { requestId: 'r1', code: 'teapot', message: 'x' }, 'unknown code'],
    ['error', { code: 'internal' }, 'no message'],
  ])('%s refuses %j (%s)', (event, data) => {
    expect(ok(serverFrameSchemas[event], data)).toBe(false);
  });
});

describe('socket constants', () => {
  it('serves the socket at /api/v1/ws', () => {
    expect(`${API_BASE_PATH}${SOCKET_PATH}`).toBe('/api/v1/ws');
  });
  it('closes binary frames with 1003', () => {
    expect(WS_CLOSE.unsupportedData).toBe(1003);
    expect(WS_CLOSE.policyViolation).toBe(1008);
    expect(WS_CLOSE.messageTooBig).toBe(1009);
  });
});
