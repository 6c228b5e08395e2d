import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, StreamRecorder, type TestApp, api, createUser, login, startApp, within } from './harness';
import { SocketClient, upgradeStatus } from './socket-client';

type Fetched = { status: number; headers: Headers; body: { statusCode?: number; error?: string; message?: string } };

async function send(
  app: TestApp,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string },
): Promise<Fetched> {
  const res = await fetch(`${app.url}${path}`, { method, headers: init.headers, body: init.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Fetched['body']) : {} };
}

/** A login from `address` (the app trusts X-Forwarded-For from its loopback proxy, as behind nginx). */
async function tryLogin(app: TestApp, username: string, password: string, address: string): Promise<Response> {
  return fetch(`${app.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify({ username, password }),
  });
}

/** A token's REST session, an open SSE stream and an open socket, to see all three end. */
async function edges(app: TestApp, token: string) {
  const stream = new StreamRecorder(app, token);
  await stream.opened();
  const streamEnded = new Promise<void>((resolve) =>
    stream.source.addEventListener('error', () => resolve(), { once: true }),
  );
  const socket = await SocketClient.open(app, token);
  const socketClosed = socket.closed();
  return {
    /** Every edge refuses the token, and its open stream and socket were closed by the server. */
    async expectEnded(): Promise<void> {
      await within(streamEnded, 5_000, 'the stream closing');
      stream.close();
      expect(await within(socketClosed, 5_000, 'the socket closing')).toBe(1008);
      expect((await api(app, token, 'GET', '/auth/me')).status).toBe(401);
      const again = await fetch(`${app.url}/api/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
      expect(again.status).toBe(401);
      await again.body?.cancel();
      expect(await upgradeStatus(app, token)).toBe(401);
    },
    close(): void {
      stream.close();
      socket.socket.terminate();
    },
  };
}

describe('hardening: sessions end before they expire (REST, SSE, WebSocket)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({ MAX_SESSIONS_PER_USER: '3' });
  });

  afterAll(() => app.stop());

  it('logout ends that session on every edge, and only that one', async () => {
    const token = await createUser(app, 'leaving', 'viewer');
    const other = (await login(app.url, 'leaving', 'leaving-password')).accessToken;
    const live = await edges(app, token);
    const res = await fetch(`${app.url}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(204);
    await live.expectEnded();
    expect((await api(app, other, 'GET', '/auth/me')).status).toBe(200);
  });

  it("an admin's password reset ends the user's sessions", async () => {
    const token = await createUser(app, 'forgetful', 'operator');
    const live = await edges(app, token);
    expect(
      (await api(app, app.adminToken, 'PATCH', '/users/forgetful', { password: 'a-brand-new-password' })).status,
    ).toBe(200);
    await live.expectEnded();
    expect((await login(app.url, 'forgetful', 'a-brand-new-password')).accessToken).toBeTruthy();
  });

  it("a role change ends the user's sessions", async () => {
    const token = await createUser(app, 'promoted', 'viewer');
    const live = await edges(app, token);
    expect((await api(app, app.adminToken, 'PATCH', '/users/promoted', { role: 'admin' })).status).toBe(200);
    await live.expectEnded();
  });

  it('the token of a deleted user stays dead when the name is created again', async () => {
    const token = await createUser(app, 'phoenix', 'admin');
    expect((await api(app, token, 'GET', '/users')).status).toBe(200);
    const live = await edges(app, token);
    expect((await api(app, app.adminToken, 'DELETE', '/users/phoenix')).status).toBe(204);
    await live.expectEnded();
    expect(
      (
        await api(app, app.adminToken, 'POST', '/users', {
          username: 'phoenix',
          password: 'phoenix-password',
          role: 'admin',
        })
      ).status,
    ).toBe(201);
    expect((await api(app, token, 'GET', '/users')).status).toBe(401);
    await live.expectEnded();
  });

  it('keeps at most MAX_SESSIONS_PER_USER sessions a user, ending the oldest (and its stream)', async () => {
    const first = await createUser(app, 'many', 'viewer');
    const live = await edges(app, first);
    const later = [];
    for (let i = 0; i < 3; i++) later.push((await login(app.url, 'many', 'many-password')).accessToken);
    await live.expectEnded();
    for (const token of later) expect((await api(app, token, 'GET', '/auth/me')).status).toBe(200);
  });

  it('sessions survive a restart', async () => {
    const token = await createUser(app, 'steady', 'viewer');
    const dataDir = app.dataDir;
    await app.stop({ keepData: true });
    app = await startApp({ MAX_SESSIONS_PER_USER: '3' }, dataDir);
    expect((await api(app, token, 'GET', '/auth/me')).body).toEqual({
      username: 'steady',
      role: 'viewer',
      scope: null,
    });
  });
});

describe('hardening: login throttling', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({
      LOGIN_MAX_FAILURES: '3',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '6',
      LOGIN_MAX_FAILURES_PER_USER: '8',
    });
    for (const name of ['carol', 'dave', 'erin']) await createUser(app, name, 'viewer');
  });

  afterAll(() => app.stop());

  it('refuses a flood of guesses with 429 and Retry-After before any password is hashed, from that address only', async () => {
    // The module object itself, which the service's namespace import reads through.
    const argon2 = require('argon2') as typeof import('argon2');
    const verify = jest.spyOn(argon2, 'verify');
    try {
      const answers = await Promise.all(
        Array.from({ length: 30 }, () => tryLogin(app, 'carol', 'wrong-guess', '10.0.0.1')),
      );
      const statuses = answers.map((res) => res.status).sort();
      expect(statuses.filter((s) => s === 401)).toHaveLength(3);
      expect(statuses.filter((s) => s === 429)).toHaveLength(27);
      expect(verify).toHaveBeenCalledTimes(3);
      const refused = answers.find((res) => res.status === 429);
      expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(60);
      expect(await refused?.json()).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
      // The right password from the guessing address is refused too, unchecked...
      expect((await tryLogin(app, 'carol', 'carol-password', '10.0.0.1')).status).toBe(429);
      expect(verify).toHaveBeenCalledTimes(3);
    } finally {
      verify.mockRestore();
    }
    // ...while the real user elsewhere logs in at once.
    expect((await tryLogin(app, 'carol', 'carol-password', '10.0.0.2')).status).toBe(200);
  });

  it('a success clears the consecutive failures of that username and address', async () => {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) expect((await tryLogin(app, 'dave', 'wrong-guess', '10.0.1.1')).status).toBe(401);
      expect((await tryLogin(app, 'dave', 'dave-password', '10.0.1.1')).status).toBe(200);
    }
  });

  it('limits failures per address across usernames (password spraying)', async () => {
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await tryLogin(app, `nobody-${i}`, 'wrong-guess', '10.0.2.1')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
    // An IPv6 subscriber holds a whole /64: the neighbouring address counts as the same.
    for (let i = 0; i < 6; i++) expect((await tryLogin(app, `v6-${i}`, 'x', '2001:db8:1:2::1')).status).toBe(401);
    expect((await tryLogin(app, 'v6-x', 'x', '2001:db8:1:2:ffff::9')).status).toBe(429);
    expect((await tryLogin(app, 'v6-y', 'x', '2001:db8:1:3::1')).status).toBe(401);
  });

  it('slows a guesser spread over many addresses down for a minute at most', async () => {
    for (let i = 0; i < 8; i++) expect((await tryLogin(app, 'erin', 'wrong-guess', `10.1.${i}.1`)).status).toBe(401);
    const refused = await tryLogin(app, 'erin', 'erin-password', '10.9.9.9');
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });
});

describe('hardening: HTTP input, CSRF and headers', () => {
  let app: TestApp;
  let own: string;
  let cookie: string;

  beforeAll(async () => {
    app = await startApp();
    own = `http://127.0.0.1:${app.port}`;
    const res = await fetch(`${app.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
    expect(cookie).toMatch(/^iot_session=/);
  });

  afterAll(() => app.stop());

  const device = (id: string) => JSON.stringify({ id, name: id });

  it('refuses a form-encoded body with 415, with the cookie or a token', async () => {
    const form = 'username=mallory&password=mallory-password&role=admin';
    for (const auth of [{ cookie, origin: own }, { authorization: `Bearer ${app.adminToken}` }] as Array<
      Record<string, string>
    >) {
      const res = await send(app, 'POST', '/api/v1/users', {
        headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      });
      expect(res.status).toBe(415);
      expect(res.body).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
    }
    expect(
      ((await api(app, app.adminToken, 'GET', '/users')).body as Array<{ username: string }>).map((u) => u.username),
    ).not.toContain('mallory');
    const plain = await send(app, 'POST', '/api/v1/devices', {
      headers: { authorization: `Bearer ${app.adminToken}`, 'content-type': 'text/plain' },
      body: device('plain-1'),
    });
    expect(plain.status).toBe(415);
  });

  it('refuses a cookie-authenticated POST from a foreign origin (403), and one naming no origin', async () => {
    for (const from of [
      { origin: 'http://127.0.0.1:1' },
      { origin: 'null' },
      { referer: 'http://evil.example/page' },
      {},
    ] as Array<Record<string, string>>) {
      const res = await send(app, 'POST', '/api/v1/devices', {
        headers: { cookie, 'content-type': 'application/json', ...from },
        body: device('csrf-1'),
      });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    }
    expect((await api(app, app.adminToken, 'GET', '/devices/csrf-1')).status).toBe(404);
    const logout = await send(app, 'POST', '/api/v1/auth/logout', {
      headers: { cookie, origin: 'http://evil.example' },
    });
    expect(logout.status).toBe(403);
  });

  it('accepts the cookie from an allowed origin (Origin, or Referer without it), and a bearer token without either', async () => {
    const fromOrigin = await send(app, 'POST', '/api/v1/devices', {
      headers: { cookie, origin: own, 'content-type': 'application/json' },
      body: device('own-1'),
    });
    expect(fromOrigin.status).toBe(201);
    const fromReferer = await send(app, 'PATCH', '/api/v1/devices/own-1', {
      headers: { cookie, referer: `${own}/devices/own-1`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'renamed' }),
    });
    expect(fromReferer.status).toBe(200);
    const merge = await send(app, 'PATCH', '/api/v1/devices/own-1/state/desired', {
      headers: { cookie, origin: own, 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ mode: 'eco' }),
    });
    expect(merge.status).toBe(200);
    const bearer = await send(app, 'POST', '/api/v1/devices', {
      headers: { authorization: `Bearer ${app.adminToken}`, 'content-type': 'application/json' },
      body: device('bearer-1'),
    });
    expect(bearer.status).toBe(201);
    // A cookie-authenticated read needs no Origin.
    expect((await send(app, 'GET', '/api/v1/devices/own-1', { headers: { cookie } })).status).toBe(200);
  });

  it('answers bad bodies in the error shape: 413 past 1 MiB, 400 for malformed JSON, 415 for another charset', async () => {
    const bearer = { authorization: `Bearer ${app.adminToken}`, 'content-type': 'application/json' };
    for (const size of [2, 5]) {
      const big = JSON.stringify({ id: 'big-1', name: 'x'.repeat(size * 1024 * 1024) });
      const res = await send(app, 'POST', '/api/v1/devices', { headers: bearer, body: big });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
      expect(res.body.message).toMatch(/1048576 bytes/);
    }
    const malformed = await send(app, 'POST', '/api/v1/devices', { headers: bearer, body: '{"id": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    const latin1 = await send(app, 'POST', '/api/v1/devices', {
      headers: { ...bearer, 'content-type': 'application/json; charset=latin1' },
      body: device('latin-1'),
    });
    expect(latin1.status).toBe(415);
    expect(latin1.body).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
    const gzip = await send(app, 'POST', '/api/v1/devices', {
      headers: { ...bearer, 'content-encoding': 'br-unknown' },
      body: device('enc-1'),
    });
    expect(gzip.status).toBe(415);
    expect(gzip.body).toMatchObject({ statusCode: 415 });
  });

  it('sends security headers on API answers, and HSTS only over TLS', async () => {
    for (const res of [
      await fetch(`${app.url}/healthz`),
      await fetch(`${app.url}/api/v1/devices`, { headers: { authorization: `Bearer ${app.adminToken}` } }),
    ]) {
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('strict-transport-security')).toBeNull();
      await res.body?.cancel();
    }
    // Behind a TLS-terminating proxy on loopback (trusted), the request is secure.
    const tls = await fetch(`${app.url}/healthz`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(tls.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    const stream = await fetch(`${app.url}/api/v1/stream`, { headers: { authorization: `Bearer ${app.adminToken}` } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('x-content-type-options')).toBe('nosniff');
    await stream.body?.cancel();
  });
});

describe('hardening: TRUST_PROXY', () => {
  it('believes X-Forwarded-* only from the proxies it names', async () => {
    // A proxy elsewhere (its network named), so the loopback client here is no proxy: its headers are its own claim.
    const app = await startApp({ TRUST_PROXY: '10.0.0.0/8' });
    try {
      const claimed = await fetch(`${app.url}/healthz`, { headers: { 'x-forwarded-proto': 'https' } });
      expect(claimed.headers.get('strict-transport-security')).toBeNull();
    } finally {
      await app.stop();
    }
  });
});

describe('hardening: the console is served with security headers', () => {
  it('sends a CSP that lets the console run from its own origin, and frame-ancestors none', async () => {
    const consoleDir = mkdtempSync(join(tmpdir(), 'iot-console-'));
    writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><script src="main.js" type="module"></script>');
    writeFileSync(join(consoleDir, 'main.js'), 'console.log(1)');
    const app = await startApp({ CONSOLE_DIR: consoleDir });
    try {
      for (const path of ['/', '/devices/x', '/main.js']) {
        const res = await fetch(`${app.url}${path}`);
        expect(res.status).toBe(200);
        const csp = res.headers.get('content-security-policy') ?? '';
        expect(csp).toContain("script-src 'self'");
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).not.toContain('upgrade-insecure-requests');
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('referrer-policy')).toBe('no-referrer');
        await res.body?.cancel();
      }
    } finally {
      await app.stop();
      rmSync(consoleDir, { recursive: true, force: true });
    }
  });
});

describe('hardening: passwords and DATA_DIR', () => {
  let app: TestApp;
  let dataDir: string;

  beforeAll(async () => {
    // An existing DATA_DIR open to everyone, as `mkdir` under umask 022 makes it.
    dataDir = mkdtempSync(join(tmpdir(), 'iot-modes-'));
    mkdirSync(dataDir, { recursive: true });
    chmodSync(dataDir, 0o755);
    app = await startApp({}, dataDir);
  });

  afterAll(() => app.stop());

  it("needs 12 characters for a person's password", async () => {
    const short = await api<{ message: string }>(app, app.adminToken, 'POST', '/users', {
      username: 'shorty',
      password: 'elevenchars',
      role: 'viewer',
    });
    expect(short.status).toBe(400);
    expect(short.body.message).toMatch(/at least 12 characters/);
    expect(
      (
        await api(app, app.adminToken, 'POST', '/users', {
          username: 'shorty',
          password: 'twelve-chars',
          role: 'viewer',
        })
      ).status,
    ).toBe(201);
    expect((await api(app, app.adminToken, 'PATCH', '/users/shorty', { password: 'elevenchars' })).status).toBe(400);
  });

  it('keeps DATA_DIR 0700 and the database and secrets 0600', async () => {
    // A write, so the WAL and its index exist.
    await createUser(app, 'writer', 'viewer');
    const mode = (path: string) => statSync(path).mode & 0o777;
    expect(mode(dataDir)).toBe(0o700);
    for (const file of ['iot.db', 'iot.db-wal', 'iot.db-shm', 'jwt-secret'])
      expect([file, mode(join(dataDir, file))]).toEqual([file, 0o600]);
  });
});
