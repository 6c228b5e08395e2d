import { ADMIN, api, createDevice, createUser, login, startApp, type TestApp, until } from './harness';

interface Entry {
  id: number;
  actor: string | null;
  action: string;
  target: string | null;
  outcome: string;
  detail: string | null;
  address: string | null;
}

describe('audit log (e2e)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp();
  });

  afterAll(() => app.stop());

  const audit = (query = '', token = app.adminToken) =>
    api<{ items: Entry[]; nextCursor: string | null }>(app, token, 'GET', `/audit${query}`);

  it('records who did what, with the outcome, and never a secret', async () => {
    const wrong = await fetch(`${app.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: ADMIN.username, password: 'not-the-password-at-all' }),
    });
    expect(wrong.status).toBe(401);
    const { credentials } = await createDevice(app, 'aud-1');
    await api(app, app.adminToken, 'POST', '/devices/aud-1/credentials');
    await api(app, app.adminToken, 'POST', '/devices/aud-1/commands', { name: 'reboot', params: { delay: 1 } });
    await api(app, app.adminToken, 'PATCH', '/devices/aud-1/state/desired', { mode: 'eco', fan: 2 });
    await createUser(app, 'olga', 'operator');
    await api(app, app.adminToken, 'PATCH', '/users/olga', { password: 'olga-new-password-1' });

    const { status, body } = await audit();
    expect(status).toBe(200);
    const seen = body.items.map((e) => [e.action, e.actor, e.target, e.outcome, e.detail]);
    expect(seen).toEqual(
      expect.arrayContaining([
        ['auth.login', ADMIN.username, null, 'refused', null],
        ['device.create', ADMIN.username, 'aud-1', 'ok', null],
        ['device.rotate', ADMIN.username, 'aud-1', 'ok', null],
        ['command.send', ADMIN.username, 'aud-1', 'ok', expect.stringMatching(/^reboot [0-9a-f-]{36}$/)],
        ['state.desired', ADMIN.username, 'aud-1', 'ok', 'mode,fan'],
        ['user.create', ADMIN.username, 'olga', 'ok', 'operator'],
        ['auth.login', 'olga', null, 'ok', null],
        ['user.update', ADMIN.username, 'olga', 'ok', 'password'],
      ]),
    );
    expect(body.items.every((e) => e.address !== null)).toBe(true);
    const text = JSON.stringify(body);
    for (const secret of [
      credentials.password,
      'not-the-password-at-all',
      'olga-new-password-1',
      'olga-password',
      ADMIN.password,
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('filters and pages, and gives a page as CSV', async () => {
    const first = await audit('?action=device.create&target=aud-1');
    expect(first.body.items.map((e) => e.action)).toEqual(['device.create']);
    const page = await audit('?limit=2');
    expect(page.body.items).toHaveLength(2);
    const next = await audit(`?limit=2&cursor=${page.body.nextCursor}`);
    expect(next.body.items[0].id).toBeLessThan(page.body.items[1].id);

    const csv = await fetch(`${app.url}/api/v1/audit?action=state.desired&format=csv`, {
      headers: { authorization: `Bearer ${app.adminToken}` },
    });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toBe('id,ts,time,actor,action,target,outcome,address,detail');
    expect(lines[1]).toMatch(/,admin,state\.desired,aud-1,ok,[^,]*,"mode,fan"$/);
  });

  it('is for admins only, and records WebSocket requests like their REST twins', async () => {
    const { accessToken } = await login(app.url, 'olga', 'olga-new-password-1');
    expect((await audit('', accessToken)).status).toBe(403);
    expect((await audit('?cursor=abc')).status).toBe(400);
    await until(async () => (await audit('?actor=olga&action=auth.login')).body.items.length >= 2, 'olga logins');
  });
});
