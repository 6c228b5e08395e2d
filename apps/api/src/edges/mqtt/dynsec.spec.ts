import { DYNSEC_TOPIC, type DynsecCommand, DynsecCredentials, deviceAcls } from './dynsec';

interface Sent {
  topic: string;
  commands: Array<DynsecCommand & { correlationData: string }>;
}

describe('DynsecCredentials', () => {
  let sent: Sent[];
  let failures: string[];
  let sut: DynsecCredentials;

  /** The broker's answer to the last message: `errors` by command name. */
  function answer(errors: Record<string, string> = {}, data: Record<string, unknown> = {}): void {
    const { commands } = sent[sent.length - 1];
    const responses = commands.map((c) => ({
      command: c.command,
      correlationData: c.correlationData,
      ...(errors[c.command] !== undefined && { error: errors[c.command] }),
      ...(data[c.command] !== undefined && { data: data[c.command] }),
    }));
    sut.onAnswer(Buffer.from(JSON.stringify({ responses })));
  }

  /** Lets the promise chains run until `count` messages have been sent. */
  async function sentMessages(count: number): Promise<void> {
    for (let turn = 0; turn < 100 && sent.length < count; turn++) await Promise.resolve();
    expect(sent.length).toBe(count);
  }

  beforeEach(() => {
    jest.useFakeTimers();
    sent = [];
    failures = [];
    sut = new DynsecCredentials(
      async (topic, payload) => void sent.push({ topic, ...(JSON.parse(payload) as Omit<Sent, 'topic'>) }),
      1000,
      {
        brokerCredentialFailures: { inc: ({ operation }: { operation: string }) => failures.push(operation) },
      } as never,
    );
  });

  afterEach(() => jest.useRealTimers());

  it('registers a device as a client of its own with a role of its own, clearing leftovers first', async () => {
    const done = sut.registered('dev-1', 'the-secret');
    await sentMessages(1);
    expect(sent[0].topic).toBe(DYNSEC_TOPIC);
    expect(sent[0].commands.map((c) => c.command)).toEqual([
      'deleteClient',
      'deleteRole',
      'createRole',
      'createClient',
    ]);
    expect(sent[0].commands[3]).toMatchObject({
      username: 'dev-1',
      clientid: 'dev-1',
      password: 'the-secret',
      roles: [{ rolename: 'iot-device-dev-1', priority: 0 }],
    });
    answer({ deleteClient: 'Client not found', deleteRole: 'Role not found' });
    await expect(done).resolves.toBeUndefined();
    expect(failures).toEqual([]);
  });

  it('fails and counts a registration the broker refuses', async () => {
    const done = sut.registered('dev-1', 'the-secret');
    await sentMessages(1);
    answer({ createClient: 'Client already exists' });
    await expect(done).rejects.toThrow('createClient: Client already exists');
    expect(failures).toEqual(['register']);
  });

  it('fails and counts a change the broker does not answer in time, ignoring late and foreign answers', async () => {
    const done = sut.rotated('dev-1', 'new-secret');
    await sentMessages(1);
    expect(sent[0].commands.map((c) => c.command)).toEqual(['disableClient', 'setClientPassword', 'enableClient']);
    sut.onAnswer(Buffer.from(JSON.stringify({ responses: [{ command: 'x', correlationData: 'someone-else-1' }] })));
    sut.onAnswer(Buffer.from('not json'));
    const outcome = expect(done).rejects.toThrow(/no answer from the broker within 1000 ms/);
    jest.advanceTimersByTime(1000);
    await outcome;
    expect(failures).toEqual(['rotate']);
    answer(); // too late: nobody waits for it any more
  });

  it('registers a device the broker does not know when its secret is rotated', async () => {
    const done = sut.rotated('dev-old', 'new-secret');
    await sentMessages(1);
    answer({
      disableClient: 'Client not found',
      setClientPassword: 'Client not found',
      enableClient: 'Client not found',
    });
    await sentMessages(2);
    expect(sent[1].commands.map((c) => c.command)).toEqual([
      'deleteClient',
      'deleteRole',
      'createRole',
      'createClient',
    ]);
    expect(sent[1].commands[3]).toMatchObject({ username: 'dev-old', password: 'new-secret' });
    answer();
    await expect(done).resolves.toBeUndefined();
  });

  it('treats a client and role already gone as deleted', async () => {
    const done = sut.removed('dev-1');
    await sentMessages(1);
    answer({ deleteClient: 'Client not found', deleteRole: 'Role not found' });
    await expect(done).resolves.toBeUndefined();
  });

  it('re-syncs: creates missing devices disabled, deletes unknown device clients only, restores missing roles', async () => {
    const done = sut.reconcile(['dev-new', 'dev-kept', 'dev-roleless']);
    await sentMessages(1);
    answer(
      {},
      {
        listClients: {
          clients: [
            { username: 'admin', roles: [{ rolename: 'admin' }] },
            { username: 'dev-kept', textname: 'iot-device', roles: [{ rolename: 'iot-device-dev-kept' }] },
            { username: 'dev-roleless', textname: 'iot-device', roles: [] },
            { username: 'dev-gone', textname: 'iot-device', roles: [{ rolename: 'iot-device-dev-gone' }] },
          ],
        },
        listRoles: { roles: ['admin', 'iot-device-dev-kept', 'iot-device-dev-gone', 'iot-device-dev-roleless'] },
      },
    );
    await sentMessages(2);
    expect(sent[1].commands.map((c) => [c.command, c['username'] ?? c['rolename']])).toEqual([
      ['deleteClient', 'dev-gone'],
      ['deleteRole', 'iot-device-dev-gone'],
      ['createRole', 'iot-device-dev-new'],
      ['createClient', 'dev-new'],
      ['disableClient', 'dev-new'],
      ['addClientRole', 'dev-roleless'],
    ]);
    answer();
    await expect(done).resolves.toEqual({ created: ['dev-new'], deleted: ['dev-gone'], repaired: ['dev-roleless'] });
  });

  it("gives a device's role its own topics only", () => {
    const acls = deviceAcls('dev-1');
    expect(acls.every((acl) => acl.topic.startsWith('devices/dev-1/') && acl.allow)).toBe(true);
    expect(acls.filter((a) => a.acltype === 'publishClientSend').map((a) => a.topic)).toEqual([
      'devices/dev-1/telemetry',
      'devices/dev-1/state/reported',
      'devices/dev-1/status',
      'devices/dev-1/commands/+/result',
      'devices/dev-1/model',
    ]);
    expect(() => deviceAcls('a/#')).toThrow(/invalid device id/);
  });
});
