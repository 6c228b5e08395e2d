import { resolveAdminCredentials } from './credentials';

const noFile = (): string => {
  throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
};

describe('resolveAdminCredentials', () => {
  it('prefers the flags', () => {
    const env = { SIM_USERNAME: 'env-user', SIM_PASSWORD: 'env-pw' };
    expect(resolveAdminCredentials({ username: 'flag-user', password: 'flag-pw' }, env, noFile)).toEqual({
      username: 'flag-user',
      password: 'flag-pw',
      source: '--password',
    });
  });

  it('then SIM_USERNAME and SIM_PASSWORD, then ADMIN_USERNAME and ADMIN_PASSWORD', () => {
    expect(
      resolveAdminCredentials({}, { SIM_USERNAME: 'sim', SIM_PASSWORD: 'a', ADMIN_PASSWORD: 'b' }, noFile),
    ).toEqual({
      username: 'sim',
      password: 'a',
      source: '$SIM_PASSWORD',
    });
    expect(resolveAdminCredentials({}, { ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'b' }, noFile)).toMatchObject({
      username: 'root',
      password: 'b',
    });
  });

  it('finally reads the password the api wrote under DATA_DIR, as admin', () => {
    const read = jest.fn(() => 'generated-secret\n');

    expect(resolveAdminCredentials({}, { DATA_DIR: '/var/iot' }, read)).toEqual({
      username: 'admin',
      password: 'generated-secret',
      source: '/var/iot/initial-admin-password',
    });
    resolveAdminCredentials({}, {}, read);
    expect(read).toHaveBeenLastCalledWith('data/initial-admin-password');
  });

  it('says what to do when there is no password anywhere', () => {
    expect(() => resolveAdminCredentials({}, {}, noFile)).toThrow(/pass --password, set SIM_PASSWORD/);
    expect(() => resolveAdminCredentials({}, {}, () => '  \n')).toThrow(/no admin password/);
  });

  it('reports a file it cannot read for another reason', () => {
    const denied = (): string => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    };
    expect(() => resolveAdminCredentials({}, {}, denied)).toThrow(
      /cannot read the admin password from data\/initial-admin-password: EACCES/,
    );
  });
});
