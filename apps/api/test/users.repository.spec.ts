import type { UserRepository } from '../src/domain/users';
import { engines, freshStore } from './storage-engines';

describe.each(engines())('UserRepository on %s', (engine) => {
  const open = freshStore(engine);
  let sut: UserRepository;

  beforeEach(async () => {
    sut = (await open()).users;
  });

  const user = (username: string) => ({
    username,
    passwordHash: `hash-${username}`,
    role: 'viewer' as const,
    scope: null as string | null,
    createdAt: 5,
  });

  it('creates once per username, counts, finds and lists by username', async () => {
    expect(await sut.create(user('zed'))).toBe(true);
    expect(await sut.create(user('Amy'))).toBe(true);
    expect(await sut.create({ ...user('zed'), passwordHash: 'other' })).toBe(false);
    expect(await sut.count()).toBe(2);
    expect(await sut.find('zed')).toEqual(user('zed'));
    expect(await sut.create({ ...user('scoped'), scope: 'site=a' })).toBe(true);
    expect((await sut.find('scoped'))?.scope).toBe('site=a');
    expect(await sut.delete('scoped')).toBe(true);
    expect(await sut.find('nobody')).toBeUndefined();
    expect((await sut.list()).map((u) => u.username)).toEqual(['Amy', 'zed']);
  });

  it('updates the fields given and deletes, telling whether there was such a user', async () => {
    await sut.create(user('amy'));
    expect(await sut.update('amy', { role: 'admin' })).toBe(true);
    expect(await sut.find('amy')).toEqual({ ...user('amy'), role: 'admin' });
    expect(await sut.update('amy', { passwordHash: 'new' })).toBe(true);
    expect(await sut.find('amy')).toEqual({ ...user('amy'), role: 'admin', passwordHash: 'new' });
    expect(await sut.update('nobody', { role: 'admin' })).toBe(false);
    expect(await sut.update('amy', { scope: 'site=a,floor=2' })).toBe(true);
    expect(await sut.find('amy')).toEqual({
      ...user('amy'),
      role: 'admin',
      passwordHash: 'new',
      scope: 'site=a,floor=2',
    });
    expect(await sut.update('amy', { role: 'operator' })).toBe(true);
    expect((await sut.find('amy'))?.scope).toBe('site=a,floor=2');
    expect(await sut.update('amy', { scope: null })).toBe(true);
    expect((await sut.find('amy'))?.scope).toBeNull();
    expect(await sut.delete('amy')).toBe(true);
    expect(await sut.delete('amy')).toBe(false);
    expect(await sut.count()).toBe(0);
  });
});
