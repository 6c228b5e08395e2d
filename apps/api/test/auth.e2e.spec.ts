import { type TestApp, ADMIN, StreamRecorder, api, createDevice, createUser, login, startApp } from './harness';

describe('auth and roles', () => {
  let app: TestApp;
  let viewer: string;
  let operator: string;

  beforeAll(async () => {
    app = await startApp();
    viewer = await createUser(app, 'vera', 'viewer');
    operator = await createUser(app, 'otto', 'operator');
    await createDevice(app, 'role-dev');
  });

  afterAll(() => app.stop());

  it.each([
    ['GET', '/devices'],
    ['GET', '/devices/role-dev'],
    ['GET', '/devices/role-dev/telemetry/latest'],
    ['GET', '/users'],
    ['POST', '/devices'],
  ])('%s %s needs a login (401)', async (method, path) => {
    const { status, body } = await api<{ message: string }>(app, undefined, method, path, method === 'POST' ? { name: 'x' } : undefined);
    expect(status).toBe(401);
    expect(body.message).toMatch(/log in/);
  });

  it('allows CORS only from the platform\'s own origins', async () => {
    const own = `http://127.0.0.1:${app.port}`;
    const allowed = await fetch(`${app.url}/healthz`, { headers: { origin: own } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(own);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    const foreign = await fetch(`${app.url}/healthz`, { headers: { origin: 'http://evil.example' } });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a forged token', async () => {
    const { status } = await api(app, `${app.adminToken.slice(0, -4)}AAAA`, 'GET', '/devices');
    expect(status).toBe(401);
  });

  it.each([
    ['viewer', 'GET', '/devices', 200],
    ['viewer', 'POST', '/devices', 403],
    ['viewer', 'POST', '/devices/role-dev/credentials', 403],
    ['viewer', 'DELETE', '/devices/role-dev', 403],
    ['viewer', 'GET', '/users', 403],
    ['operator', 'GET', '/devices/role-dev', 200],
    ['operator', 'POST', '/devices', 403],
    ['operator', 'PATCH', '/devices/role-dev', 403],
    ['operator', 'GET', '/users', 403],
  ])('%s: %s %s → %i', async (role, method, path, expected) => {
    const token = role === 'viewer' ? viewer : operator;
    const body = method === 'POST' || method === 'PATCH' ? { name: 'renamed' } : undefined;
    expect((await api(app, token, method, path, body)).status).toBe(expected);
  });

  it('tells any signed-in user where devices reach the broker, and nobody else', async () => {
    expect((await api(app, undefined, 'GET', '/broker')).status).toBe(401);
    const { status, body } = await api<{ url: string; derived: boolean }>(app, viewer, 'GET', '/broker');
    expect(status).toBe(200);
    expect(body).toEqual({ url: `mqtt://127.0.0.1:${app.mqttPort}`, derived: true });
  });

  it('lets a viewer open the stream', async () => {
    const stream = new StreamRecorder(app, viewer);
    await expect(stream.opened()).resolves.toBeUndefined();
    stream.close();
  });

  it('logs in with a cookie that authenticates later requests, and logs out', async () => {
    const res = await fetch(`${app.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    const body = (await res.json()) as { expiresIn: number; user: { role: string } };
    expect(body.user).toEqual({ username: 'admin', role: 'admin', scope: null });
    expect(body.expiresIn).toBeGreaterThan(0);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/iot_session=.+HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const me = await fetch(`${app.url}/api/v1/auth/me`, { headers: { cookie: cookie.split(';')[0] } });
    expect(await me.json()).toEqual({ username: 'admin', role: 'admin', scope: null });
    const out = await fetch(`${app.url}/api/v1/auth/logout`, { method: 'POST' });
    expect(out.headers.get('set-cookie')).toMatch(/iot_session=;/);
  });

  it('refuses a wrong password with 401 and bad bodies with 400', async () => {
    expect((await api(app, undefined, 'POST', '/auth/login', { username: 'admin', password: 'nope' })).status).toBe(401);
    const bad = await api<{ message: string }>(app, undefined, 'POST', '/auth/login', { username: 'admin' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/password/);
    const res = await fetch(`${app.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{oops' });
    expect(res.status).toBe(400);
  });

  it('a deleted user loses access at once, and their streams close', async () => {
    const token = await createUser(app, 'temp', 'viewer');
    const stream = new StreamRecorder(app, token);
    await stream.opened();
    const closedByServer = new Promise<void>((resolve) => stream.source.addEventListener('error', () => resolve(), { once: true }));
    expect((await api(app, app.adminToken, 'DELETE', '/users/temp')).status).toBe(204);
    await closedByServer;
    stream.close();
    expect((await api(app, token, 'GET', '/devices')).status).toBe(401);
  });

  it('a lowered role takes effect at once: the session ends, and a new one has the new role', async () => {
    const token = await createUser(app, 'demoted', 'admin');
    expect((await api(app, token, 'GET', '/users')).status).toBe(200);
    expect((await api(app, app.adminToken, 'PATCH', '/users/demoted', { role: 'viewer' })).status).toBe(200);
    expect((await api(app, token, 'GET', '/users')).status).toBe(401);
    const again = (await login(app.url, 'demoted', 'demoted-password')).accessToken;
    expect((await api(app, again, 'GET', '/users')).status).toBe(403);
  });
});

describe('device registry', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp();
  });

  afterAll(() => app.stop());

  it('creates a device with a generated id and returns its secret once', async () => {
    const created = await api<{ device: { id: string }; credentials: { username: string; password: string } }>(
      app, app.adminToken, 'POST', '/devices', { name: 'Unnamed' },
    );
    expect(created.status).toBe(201);
    expect(created.body.credentials.username).toBe(created.body.device.id);
    expect(created.body.credentials.password.length).toBeGreaterThanOrEqual(24);
    const read = await api<Record<string, unknown>>(app, app.adminToken, 'GET', `/devices/${created.body.device.id}`);
    expect(JSON.stringify(read.body)).not.toContain(created.body.credentials.password);
  });

  it('409s on an existing id and 400s on a bad one', async () => {
    await createDevice(app, 'dup');
    expect((await api(app, app.adminToken, 'POST', '/devices', { id: 'dup', name: 'again' })).status).toBe(409);
    const bad = await api<{ message: string }>(app, app.adminToken, 'POST', '/devices', { id: 'bad/id', name: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^id:/);
  });

  it('lists with search, filters and cursor paging', async () => {
    for (let i = 0; i < 5; i++) await createDevice(app, `page-${i}`, i % 2 ? 'meter' : 'thermostat');
    const first = await api<{ items: { id: string }[]; nextCursor: string | null }>(app, app.adminToken, 'GET', '/devices?q=page-&limit=2');
    expect(first.body.items.map((d) => d.id)).toEqual(['page-0', 'page-1']);
    const second = await api<{ items: { id: string }[]; nextCursor: string | null }>(
      app, app.adminToken, 'GET', `/devices?q=page-&limit=2&cursor=${first.body.nextCursor}`,
    );
    expect(second.body.items.map((d) => d.id)).toEqual(['page-2', 'page-3']);
    const meters = await api<{ items: { id: string }[] }>(app, app.adminToken, 'GET', '/devices?type=meter&online=false');
    expect(meters.body.items.map((d) => d.id)).toEqual(['page-1', 'page-3']);
    const badLimit = await api(app, app.adminToken, 'GET', '/devices?limit=0');
    expect(badLimit.status).toBe(400);
  });

  it('renames and relabels', async () => {
    await createDevice(app, 'patchme');
    const patched = await api<{ name: string; labels: Record<string, string> }>(app, app.adminToken, 'PATCH', '/devices/patchme', {
      name: 'Boiler',
      labels: { site: 'north' },
    });
    expect(patched.body).toMatchObject({ name: 'Boiler', labels: { site: 'north' } });
    expect((await api(app, app.adminToken, 'PATCH', '/devices/nobody', { name: 'x' })).status).toBe(404);
  });
});
