import type { DeviceCredentials } from '@iot/protocol';
import { type TestApp, api, createDevice, startApp } from './harness';

const SECRET = 'emqx-shared-secret-for-the-tests-0123456789';
const API_USER = { username: 'iot-api', password: 'iot-api-broker-password' };

/** A request as EMQX's HTTP authenticator or authoriser sends it (POST, JSON body from its template). */
async function emqx(
  app: TestApp,
  what: 'authenticate' | 'authorize',
  body: unknown,
  secret: string | null = SECRET,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${app.url}/api/v1/broker/emqx/${what}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(secret !== null && { 'x-emqx-secret': secret }),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** EMQX's body template `{"clientid": "${clientid}", "username": "${username}", "password": "${password}", "peerhost": "${peerhost}"}`. */
function connectBody(credentials: DeviceCredentials, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    clientid: credentials.username,
    username: credentials.username,
    password: credentials.password,
    peerhost: '10.1.2.3',
    ...overrides,
  };
}

function allowed(result: { body: unknown }): string {
  return (result.body as { result: string }).result;
}

describe('EMQX HTTP authentication and authorisation', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({
      EMQX_AUTH_SECRET: SECRET,
      MQTT_USERNAME: API_USER.username,
      MQTT_PASSWORD: API_USER.password,
      MQTT_AUTH_MAX_FAILURES: '3',
    });
  });
  afterAll(() => app.stop());

  it('answers only callers that send the shared secret', async () => {
    const body = { clientid: 'x', username: 'x', password: 'y' };
    expect((await emqx(app, 'authenticate', body, null)).status).toBe(401);
    expect((await emqx(app, 'authenticate', body, 'a-wrong-secret')).status).toBe(401);
    expect((await emqx(app, 'authorize', { ...body, topic: 't', action: 'publish' }, 'nope')).status).toBe(401);
  });

  it('lets a device in with its id as client id and username and its secret, and nothing else', async () => {
    const { credentials } = await createDevice(app, 'emqx-1');
    const ok = await emqx(app, 'authenticate', connectBody(credentials));
    expect(ok).toEqual({ status: 200, body: { result: 'allow', is_superuser: false } });
    for (const body of [
      connectBody(credentials, { password: 'a-wrong-secret' }),
      connectBody(credentials, { clientid: 'another-client' }),
      connectBody(credentials, { username: 'emqx-2' }),
      connectBody(credentials, { password: '' }),
      { clientid: 'emqx-1', username: 'emqx-1' },
      { clientid: 'a/#', username: 'a/#', password: 'x' },
      { nonsense: true },
    ]) {
      expect(await emqx(app, 'authenticate', body)).toEqual({ status: 200, body: { result: 'deny' } });
    }
  });

  it('throttles guessing as the embedded broker does: past the allowance even the right secret is denied', async () => {
    const { credentials } = await createDevice(app, 'emqx-guessed');
    for (let i = 0; i < 3; i++) {
      expect(allowed(await emqx(app, 'authenticate', connectBody(credentials, { password: `guess-${i}` })))).toBe(
        'deny',
      );
    }
    expect(allowed(await emqx(app, 'authenticate', connectBody(credentials)))).toBe('deny');
  });

  it('denies an old secret after rotation and any secret after deletion', async () => {
    const { credentials } = await createDevice(app, 'emqx-rot');
    expect(allowed(await emqx(app, 'authenticate', connectBody(credentials)))).toBe('allow');
    const rotated = await api<DeviceCredentials>(app, app.adminToken, 'POST', '/devices/emqx-rot/credentials');
    expect(allowed(await emqx(app, 'authenticate', connectBody(credentials)))).toBe('deny');
    expect(allowed(await emqx(app, 'authenticate', connectBody(rotated.body)))).toBe('allow');
    await api(app, app.adminToken, 'DELETE', '/devices/emqx-rot');
    expect(allowed(await emqx(app, 'authenticate', connectBody(rotated.body)))).toBe('deny');
  });

  it("lets the api's own broker user in as superuser with its password only", async () => {
    const body = { clientid: 'iot-api-0a1b2c', username: API_USER.username, password: API_USER.password };
    expect((await emqx(app, 'authenticate', body)).body).toEqual({ result: 'allow', is_superuser: true });
    expect((await emqx(app, 'authenticate', { ...body, password: 'wrong' })).body).toEqual({ result: 'deny' });
  });

  it("authorises a device on its own topics only, as the embedded broker's ACL", async () => {
    const ask = async (topic: string, action: string, clientid = 'emqx-acl', username = clientid) =>
      allowed(await emqx(app, 'authorize', { clientid, username, topic, action }));
    for (const topic of [
      'devices/emqx-acl/telemetry',
      'devices/emqx-acl/state/reported',
      'devices/emqx-acl/status',
      'devices/emqx-acl/commands/c-1/result',
    ]) {
      expect([topic, await ask(topic, 'publish')]).toEqual([topic, 'allow']);
    }
    for (const topic of [
      'devices/emqx-other/telemetry',
      'devices/emqx-acl/commands/c-1',
      'devices/emqx-acl/state/desired',
      'devices/emqx-acl/errors',
      '$SYS/broker/uptime',
    ]) {
      expect([topic, await ask(topic, 'publish')]).toEqual([topic, 'deny']);
    }
    for (const filter of [
      'devices/emqx-acl/commands/+',
      'devices/emqx-acl/commands/#',
      'devices/emqx-acl/state/desired',
      'devices/emqx-acl/errors',
    ]) {
      expect([filter, await ask(filter, 'subscribe')]).toEqual([filter, 'allow']);
    }
    for (const filter of ['#', 'devices/+/commands/+', 'devices/emqx-other/commands/+', 'devices/emqx-acl/telemetry']) {
      expect([filter, await ask(filter, 'subscribe')]).toEqual([filter, 'deny']);
    }
    expect(await ask('devices/emqx-acl/telemetry', 'publish', 'emqx-acl', 'someone-else')).toBe('deny');
    expect(await ask('devices/emqx-acl/telemetry', 'all')).toBe('deny');
    expect(await ask('devices/emqx-acl/telemetry', 'publish', 'emqx-acl', API_USER.username)).toBe('allow');
  });
});

describe('EMQX HTTP auth, not configured', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(() => app.stop());

  it('is not there without EMQX_AUTH_SECRET', async () => {
    const body = { clientid: 'x', username: 'x', password: 'y' };
    expect((await emqx(app, 'authenticate', body, '')).status).toBe(404);
    expect((await emqx(app, 'authorize', { ...body, topic: 't', action: 'publish' })).status).toBe(404);
  });
});
