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

describe('audit log, own password and label selectors (e2e)', () => {
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

  it('lets a user change their own password, checked as a login is; every session of theirs ends', async () => {
    const { accessToken } = await login(app.url, 'olga', 'olga-new-password-1');
    const change = (currentPassword: string, newPassword: string) =>
      api<{ message?: string }>(app, accessToken, 'POST', '/auth/password', { currentPassword, newPassword });
    const wrong = await change('not-her-password', 'olga-newer-password-2');
    expect(wrong.status).toBe(400);
    expect(JSON.stringify(wrong.body)).toContain('the current password is wrong');
    expect((await change('olga-new-password-1', 'short')).status).toBe(400);
    expect((await change('olga-new-password-1', 'olga-newer-password-2')).status).toBe(204);
    expect((await api(app, accessToken, 'GET', '/auth/me')).status).toBe(401);
    const again = await login(app.url, 'olga', 'olga-newer-password-2');
    expect((await api(app, again.accessToken, 'GET', '/auth/me')).status).toBe(200);
    const entries = (await audit('?actor=olga&action=auth.password')).body.items.map((e) => e.outcome);
    expect(entries).toEqual(['ok', 'refused', 'refused']);
    expect(JSON.stringify(await audit())).not.toContain('olga-newer-password-2');
  });

  it('lists devices by a label selector', async () => {
    await api(app, app.adminToken, 'POST', '/devices', {
      id: 'lab-1',
      name: 'lab-1',
      labels: { site: 'a', floor: '1' },
    });
    await api(app, app.adminToken, 'POST', '/devices', { id: 'lab-2', name: 'lab-2', labels: { site: 'b' } });
    const ids = async (query: string) =>
      (await api<{ items: Array<{ id: string }> }>(app, app.adminToken, 'GET', `/devices${query}`)).body.items.map(
        (d) => d.id,
      );
    expect(await ids('?labels=site=a')).toEqual(['lab-1']);
    expect(await ids('?labels=site=a,floor=2')).toEqual([]);
    expect((await api(app, app.adminToken, 'GET', '/devices?labels=site')).status).toBe(400);
  });

  it('is for admins only, and refuses a cursor it did not give', async () => {
    const { accessToken } = await login(app.url, 'olga', 'olga-newer-password-2');
    expect((await audit('', accessToken)).status).toBe(403);
    expect((await audit('?cursor=abc')).status).toBe(400);
    await until(async () => (await audit('?actor=olga&action=auth.login')).body.items.length >= 2, 'olga logins');
  });
});
