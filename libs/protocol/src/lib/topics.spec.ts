import {
  COMMAND_ID_PATTERN,
  DEVICE_PUBLISH_KINDS,
  PLATFORM_ONLY_KINDS,
  PLATFORM_SUBSCRIPTIONS,
  ParsedTopic,
  TOPIC_ROOT,
  TopicKind,
  devicePublishAllowed,
  deviceSubscriptionAllowed,
  parseTopic,
  topics,
} from './topics';

const x = (n: number, c = 'a') => c.repeat(n);
const ULID = '01JDQ7Z8X5K3M2N4P6R8T0V2W4';
const UUID7 = '01936a5e-8f2b-7c3d-9e4f-0a1b2c3d4e5f';

describe('topic builders', () => {
  it.each<[string, string]>([
    [topics.telemetry('dev-1'), 'devices/dev-1/telemetry'],
    [topics.stateReported('dev-1'), 'devices/dev-1/state/reported'],
    [topics.stateDesired('dev-1'), 'devices/dev-1/state/desired'],
    [topics.status('dev-1'), 'devices/dev-1/status'],
    [topics.command('dev-1', 'c1'), 'devices/dev-1/commands/c1'],
    [topics.commandResult('dev-1', 'c1'), 'devices/dev-1/commands/c1/result'],
    [topics.commandsFilter('dev-1'), 'devices/dev-1/commands/+'],
    [topics.errors('dev-1'), 'devices/dev-1/errors'],
  ])('builds %s', (built, expected) => {
    expect(built).toBe(expected);
  });

  it('uses "devices" as the root', () => {
    expect(TOPIC_ROOT).toBe('devices');
    expect(topics.telemetry('a').split('/')[0]).toBe(TOPIC_ROOT);
  });

  it.each([[ULID], [UUID7], [x(64)], ['a'], ['A_b-9']])('accepts command id %p', (commandId) => {
    expect(topics.command('d', commandId)).toBe(`devices/d/commands/${commandId}`);
    expect(topics.commandResult('d', commandId)).toBe(`devices/d/commands/${commandId}/result`);
  });

  const badDeviceIds = ['', '+', '#', 'a/b', 'a/+', '-a', '_a', '$SYS', 'a b', x(65), 'a.b'];
  const deviceBuilders: Array<[string, (id: string) => string]> = [
    ['telemetry', topics.telemetry],
    ['stateReported', topics.stateReported],
    ['stateDesired', topics.stateDesired],
    ['status', topics.status],
    ['commandsFilter', topics.commandsFilter],
    ['errors', topics.errors],
    ['model', topics.model],
    ['command', (id) => topics.command(id, 'c1')],
    ['commandResult', (id) => topics.commandResult(id, 'c1')],
  ];
  describe.each(deviceBuilders)('%s', (_name, build) => {
    it.each(badDeviceIds.map((id) => [id]))('refuses device id %p', (id) => {
      expect(() => build(id)).toThrow(/invalid device id/);
    });
    it('accepts a 64-character device id', () => {
      expect(build(x(64))).toContain(`devices/${x(64)}/`);
    });
  });

  it.each([[''], ['+'], ['#'], ['c/1'], ['c 1'], ['c.1'], [x(65)], ['c1/result']])(
    'command and commandResult refuse command id %p',
    (commandId) => {
      expect(() => topics.command('d', commandId)).toThrow(/invalid command id/);
      expect(() => topics.commandResult('d', commandId)).toThrow(/invalid command id/);
    },
  );
});

describe('COMMAND_ID_PATTERN', () => {
  it.each([[ULID], [UUID7], [x(64)]])('accepts %p', (id) => expect(COMMAND_ID_PATTERN.test(id)).toBe(true));
  it.each([[''], [x(65)], ['+'], ['#'], ['a/b']])('refuses %p', (id) => expect(COMMAND_ID_PATTERN.test(id)).toBe(false));
});

describe('parseTopic', () => {
  it.each<[string, ParsedTopic]>([
    ['devices/d1/telemetry', { deviceId: 'd1', kind: 'telemetry' }],
    ['devices/d1/state/reported', { deviceId: 'd1', kind: 'state.reported' }],
    ['devices/d1/state/desired', { deviceId: 'd1', kind: 'state.desired' }],
    ['devices/d1/status', { deviceId: 'd1', kind: 'status' }],
    ['devices/d1/errors', { deviceId: 'd1', kind: 'errors' }],
    ['devices/d1/model', { deviceId: 'd1', kind: 'model' }],
    [`devices/d1/commands/${ULID}`, { deviceId: 'd1', kind: 'command', commandId: ULID }],
    [`devices/d1/commands/${UUID7}/result`, { deviceId: 'd1', kind: 'command.result', commandId: UUID7 }],
    [`devices/${x(64)}/telemetry`, { deviceId: x(64), kind: 'telemetry' }],
    [`devices/d1/commands/${x(64)}`, { deviceId: 'd1', kind: 'command', commandId: x(64) }],
    // A command id that happens to be a keyword is still a command id.
    ['devices/d1/commands/result', { deviceId: 'd1', kind: 'command', commandId: 'result' }],
  ])('parses %s', (topic, expected) => {
    expect(parseTopic(topic)).toEqual(expected);
  });

  it('round-trips every builder', () => {
    const cases: Array<[string, TopicKind, string | undefined]> = [
      [topics.telemetry('dev_1'), 'telemetry', undefined],
      [topics.stateReported('dev_1'), 'state.reported', undefined],
      [topics.stateDesired('dev_1'), 'state.desired', undefined],
      [topics.status('dev_1'), 'status', undefined],
      [topics.command('dev_1', ULID), 'command', ULID],
      [topics.commandResult('dev_1', ULID), 'command.result', ULID],
      [topics.errors('dev_1'), 'errors', undefined],
      [topics.model('dev_1'), 'model', undefined],
    ];
    for (const [topic, kind, commandId] of cases) {
      const parsed = parseTopic(topic);
      expect(parsed).toEqual(commandId === undefined ? { deviceId: 'dev_1', kind } : { deviceId: 'dev_1', kind, commandId });
    }
    // Every kind is covered.
    expect(new Set(cases.map((c) => c[1])).size).toBe(8);
  });

  it.each([
    [''],
    ['devices'],
    ['devices/'],
    ['devices/d1'],
    ['devices/d1/'],
    ['/devices/d1/telemetry'],
    ['devices/d1/telemetry/'],
    ['devices//telemetry'],
    ['Devices/d1/telemetry'],
    ['device/d1/telemetry'],
    ['things/d1/telemetry'],
    ['devices/d1/Telemetry'],
    ['devices/d1/telemetry/extra'],
    ['devices/d1/state'],
    ['devices/d1/state/other'],
    ['devices/d1/state/reported/x'],
    ['devices/d1/commands'],
    ['devices/d1/commands/'],
    ['devices/d1/commands/c1/'],
    ['devices/d1/commands/c1/results'],
    ['devices/d1/commands/c1/result/x'],
    ['devices/d1/commands/c.1'],
    [`devices/d1/commands/${x(65)}`],
    ['devices/+/telemetry'],
    ['devices/#'],
    ['devices/d1/#'],
    ['devices/d1/+'],
    ['devices/d1/commands/+'],
    ['devices/d1/commands/#'],
    ['devices/d1/commands/+/result'],
    ['#'],
    ['+/+/+'],
    ['$SYS/broker/clients/connected'],
    ['$SYS/#'],
    ['$share/g/devices/d1/telemetry'],
    [`devices/${x(65)}/telemetry`],
    ['devices/-d1/telemetry'],
    ['devices/d 1/telemetry'],
  ])('returns undefined for %p', (topic) => {
    expect(parseTopic(topic)).toBeUndefined();
  });

  it('does not parse the commands filter (a wildcard)', () => {
    expect(parseTopic(topics.commandsFilter('d1'))).toBeUndefined();
  });
});

describe('PLATFORM_SUBSCRIPTIONS', () => {
  it('covers every device → platform topic, and nothing else', () => {
    expect([...PLATFORM_SUBSCRIPTIONS].sort()).toEqual(
      [
        'devices/+/commands/+/result',
        'devices/+/state/reported',
        'devices/+/status',
        'devices/+/telemetry',
        'devices/+/model',
      ].sort(),
    );
  });
});

describe('DEVICE_PUBLISH_KINDS', () => {
  it('holds exactly the device → platform kinds', () => {
    expect([...DEVICE_PUBLISH_KINDS].sort()).toEqual(['command.result', 'model', 'state.reported', 'status', 'telemetry']);
  });
});

/** Every filter that matches `topic`: each level kept or `+`, optionally cut short by `#`. */
function filtersMatching(topic: string): string[] {
  const levels = topic.split('/');
  let filters = [''];
  const all: string[] = [];
  levels.forEach((level, i) => {
    for (const f of filters) all.push(i === 0 ? '#' : `${f}/#`);
    filters = filters.flatMap((f) => [level, '+'].map((l) => (i === 0 ? l : `${f}/${l}`)));
  });
  return all.concat(filters);
}

describe('PLATFORM_ONLY_KINDS', () => {
  it('holds the device → platform kinds except command results (a device may subscribe to commands/#)', () => {
    expect([...PLATFORM_ONLY_KINDS].sort()).toEqual(['model', 'state.reported', 'status', 'telemetry']);
  });

  it.each([
    ['telemetry', topics.telemetry('d1')],
    ['state.reported', topics.stateReported('d1')],
    ['status', topics.status('d1')],
    ['model', topics.model('d1')],
  ])('no device may subscribe to any filter matching a %s topic', (kind, topic) => {
    expect(PLATFORM_ONLY_KINDS.has(kind as TopicKind)).toBe(true);
    const filters = filtersMatching(topic);
    expect(filters).toContain('devices/+/#');
    for (const device of ['d1', 'd2']) {
      expect(filters.filter((f) => deviceSubscriptionAllowed(device, f))).toEqual([]);
    }
  });

  it('is not true of command results, which commands/# matches', () => {
    expect(filtersMatching(topics.commandResult('d1', ULID)).filter((f) => deviceSubscriptionAllowed('d1', f))).toEqual(
      ['devices/d1/commands/#'],
    );
  });
});

describe('devicePublishAllowed', () => {
  it.each([
    ['devices/d1/telemetry'],
    ['devices/d1/state/reported'],
    ['devices/d1/status'],
    [`devices/d1/commands/${ULID}/result`],
  ])('lets d1 publish on its own %s', (topic) => {
    expect(devicePublishAllowed('d1', topic)).toBe(true);
  });

  it.each([
    ['devices/d1/state/desired', 'platform → device topic'],
    ['devices/d1/errors', 'platform → device topic'],
    [`devices/d1/commands/${ULID}`, 'platform → device topic'],
    ['devices/d2/telemetry', 'another device'],
    ['devices/d2/status', 'another device'],
    [`devices/d2/commands/${ULID}/result`, 'another device'],
    ['devices/d10/telemetry', 'a device whose id starts with the own id'],
    ['devices/D1/telemetry', 'the own id in another case'],
    ['devices/+/telemetry', 'wildcard device'],
    ['devices/d1/+', 'wildcard kind'],
    ['devices/d1/#', 'multi-level wildcard'],
    ['#', 'everything'],
    ['devices/#', 'every device'],
    ['devices/d1/commands/+/result', 'wildcard command id'],
    ['$SYS/broker/clients/connected', '$SYS'],
    ['$SYS/d1/telemetry', '$SYS'],
    ['d1/telemetry', 'outside devices/'],
    ['devices/d1/telemetry/extra', 'below a contract topic'],
    ['devices/d1/state', 'partial topic'],
    ['', 'empty topic'],
  ])('refuses d1 publishing on %p (%s)', (topic) => {
    expect(devicePublishAllowed('d1', topic)).toBe(false);
  });

  it.each([[''], ['+'], ['#']])('refuses a device with the bogus id %p, even on a matching topic', (id) => {
    expect(devicePublishAllowed(id, `devices/${id}/telemetry`)).toBe(false);
  });
});

describe('deviceSubscriptionAllowed', () => {
  it.each([
    ['devices/d1/commands/+', 'its command filter'],
    ['devices/d1/commands/#', 'its commands, multi-level'],
    ['devices/d1/state/desired', 'its desired state'],
    ['devices/d1/errors', 'its error notices'],
    [`devices/d1/commands/${ULID}`, 'a single command topic'],
    [`devices/d1/commands/${UUID7}`, 'a single command topic (UUIDv7)'],
    [topics.commandsFilter('d1'), 'the filter the builder makes'],
  ])('lets d1 subscribe to %p (%s)', (filter) => {
    expect(deviceSubscriptionAllowed('d1', filter)).toBe(true);
  });

  it.each([
    ['#', 'everything'],
    ['+', 'top level wildcard'],
    ['+/+/+', 'wildcards at every level'],
    ['+/d1/commands/+', 'wildcard root'],
    ['devices/#', 'every device'],
    ['devices/+', 'every device'],
    ['devices/+/commands/+', 'every device commands'],
    ['devices/+/state/desired', 'every device state'],
    ['devices/d2/commands/+', 'another device'],
    ['devices/d2/state/desired', 'another device'],
    ['devices/d10/commands/+', 'a device whose id starts with the own id'],
    ['devices/D1/commands/+', 'the own id in another case'],
    ['$SYS/#', '$SYS'],
    ['$SYS/broker/clients/connected', '$SYS'],
    ['$share/g/devices/d1/commands/+', 'shared subscription'],
    ['devices/d1/#', 'all of its own topics (includes device → platform ones)'],
    ['devices/d1/+', 'wildcard kind'],
    ['devices/d1/+/desired', 'wildcard inside the state topic'],
    ['devices/d1/state/+', 'wildcard state'],
    ['devices/d1/state/#', 'wildcard state'],
    ['devices/d1/telemetry', 'device → platform topic'],
    ['devices/d1/status', 'device → platform topic'],
    ['devices/d1/state/reported', 'device → platform topic'],
    ['devices/d1/commands/+/result', 'result topics'],
    [`devices/d1/commands/${ULID}/result`, 'a result topic'],
    ['devices/d1/commands/c+', 'wildcard inside a level (invalid filter)'],
    ['devices/d1/commands/c#', 'wildcard inside a level (invalid filter)'],
    ['devices/d1/commands/', 'empty command id'],
    ['devices/d1/commands', 'no command id'],
    [`devices/d1/commands/${x(65)}`, '65-character command id'],
    ['devices/d1/commands/c.1', 'command id with a dot'],
    ['devices/d1/errors/#', 'below errors'],
    ['devices/d1/', 'the bare prefix'],
    ['devices/d1', 'no kind'],
    ['', 'empty filter'],
  ])('refuses d1 subscribing to %p (%s)', (filter) => {
    expect(deviceSubscriptionAllowed('d1', filter)).toBe(false);
  });

  it.each<[string, string]>([
    ['+', 'devices/+/errors'],
    ['+', 'devices/+/commands/+'],
    ['#', 'devices/#/errors'],
    ['a/#', 'devices/a/#/errors'],
    ['', 'devices//errors'],
    [x(65), `devices/${x(65)}/errors`],
  ])('refuses a device whose id %p is not a valid id (filter %p)', (deviceId, filter) => {
    expect(deviceSubscriptionAllowed(deviceId, filter)).toBe(false);
  });
});
