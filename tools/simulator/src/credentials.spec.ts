import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatorFiles, firstAdminCredentials, givenCredentials, logInAsSimulator } from './credentials';
import { PlatformApi } from './platform-api';
import { startFakeApi, type FakeApi } from './testing/fake-api';

const noFile = (): string => {
  throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
};

describe('givenCredentials', () => {
  it('prefers the flags', () => {
    const env = { SIM_USERNAME: 'env-user', SIM_PASSWORD: 'env-pw' };
    expect(givenCredentials({ username: 'flag-user', password: 'flag-pw' }, env)).toEqual({
      username: 'flag-user',
      password: 'flag-pw',
      source: '--password',
    });
  });

  it('then SIM_USERNAME and SIM_PASSWORD; ADMIN_PASSWORD alone is not a login to use as it is', () => {
    expect(givenCredentials({}, { SIM_USERNAME: 'sim', SIM_PASSWORD: 'a', ADMIN_PASSWORD: 'b' })).toEqual({
      username: 'sim',
      password: 'a',
      source: '$SIM_PASSWORD',
    });
    expect(givenCredentials({}, { ADMIN_USERNAME: 'root', SIM_PASSWORD: 'a' })).toMatchObject({ username: 'root' });
    expect(givenCredentials({}, { ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'b' })).toBeUndefined();
  });
});

describe('firstAdminCredentials', () => {
  it('takes ADMIN_USERNAME and ADMIN_PASSWORD first', () => {
    expect(firstAdminCredentials({ ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'b' }, noFile)).toEqual({
      username: 'root',
      password: 'b',
      source: '$ADMIN_PASSWORD',
    });
  });

  it('then the generated password the api keeps under DATA_DIR, as admin', () => {
    const read = jest.fn(() => 'generated-secret\n');

    expect(firstAdminCredentials({ DATA_DIR: '/var/iot' }, read)).toEqual({
      username: 'admin',
      password: 'generated-secret',
      source: '/var/iot/initial-admin-password',
    });
    firstAdminCredentials({}, read);
    expect(read).toHaveBeenLastCalledWith('data/initial-admin-password');
  });

  it('is undefined once that file is gone (the admin changed the password) or empty', () => {
    expect(firstAdminCredentials({}, noFile)).toBeUndefined();
    expect(firstAdminCredentials({}, () => '  \n')).toBeUndefined();
  });

  it('reports a file it cannot read for another reason', () => {
    const denied = (): string => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    };
    expect(() => firstAdminCredentials({}, denied)).toThrow(
      /cannot read the admin password from data\/initial-admin-password: EACCES/,
    );
  });
});

describe('logInAsSimulator (fake api)', () => {
  const ADMIN = { username: 'admin', password: 'first-admin-password', source: 'test' };
  let api: FakeApi;
  let dir: string;
  let lines: string[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sim-credentials-'));
    lines = [];
    api = await startFakeApi(ADMIN, () => undefined);
  });

  afterEach(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const logIn = (firstAdmin: typeof ADMIN | undefined) =>
    logInAsSimulator(new PlatformApi(api.url), new SimulatorFiles(dir), firstAdmin, (line) => lines.push(line));

  it('makes its own admin user once, keeps it in DATA_DIR (0600), and reuses it without the admin password', async () => {
    await expect(logIn(ADMIN)).resolves.toBe('simulator');
    const file = join(dir, 'simulator-credentials');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { username: string; password: string };
    expect(stored.username).toBe('simulator');
    expect(stored.password.length).toBeGreaterThanOrEqual(12);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(api.users.get('simulator')).toEqual({ password: stored.password, role: 'admin' });

    // The admin changes the password: the simulator no longer knows it, and needs not.
    api.users.set('admin', { password: 'changed-by-the-admin', role: 'admin' });
    api.requests.length = 0;
    await expect(logIn(undefined)).resolves.toBe('simulator');

    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /auth/login']);
    expect(api.requests[0].body).toEqual({ username: 'simulator', password: stored.password });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(stored);
  });

  it('makes the user anew when the platform refuses the stored login and an admin login is at hand', async () => {
    writeFileSync(join(dir, 'simulator-credentials'), JSON.stringify({ username: 'simulator', password: 'old' }));
    api.users.set('simulator', { password: 'someone-else-set-this', role: 'viewer' });

    await expect(logIn(ADMIN)).resolves.toBe('simulator');

    const stored = JSON.parse(readFileSync(join(dir, 'simulator-credentials'), 'utf8')) as { password: string };
    expect(api.users.get('simulator')).toEqual({ password: stored.password, role: 'admin' });
    expect(lines[0]).toMatch(/refused the login/);
  });

  it('says what to do without its file and without an admin password', async () => {
    await expect(logIn(undefined)).rejects.toThrow(/no credentials: .*simulator-credentials does not exist yet/);
  });
});
