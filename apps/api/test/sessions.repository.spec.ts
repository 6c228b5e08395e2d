import type { SessionRepository } from '../src/domain/sessions';
import { engines, freshStore } from './storage-engines';

describe.each(engines())('SessionRepository on %s', (engine) => {
  const open = freshStore(engine);
  let sut: SessionRepository;

  beforeEach(async () => {
    sut = (await open()).sessions;
  });

  const session = (id: string, username: string, createdAt: number, expiresAt: number) => ({
    id,
    username,
    createdAt,
    expiresAt,
  });

  it('lists live sessions oldest first, deleting expired ones first', async () => {
    await sut.insert(session('s2', 'amy', 20, 1000));
    await sut.insert(session('s1', 'amy', 10, 1000));
    await sut.insert(session('old', 'bob', 5, 100));
    expect(await sut.live(100)).toEqual([session('s1', 'amy', 10, 1000), session('s2', 'amy', 20, 1000)]);
    expect(await sut.prune(100)).toBe(0);
  });

  it('deletes by id, all of a user (returning their ids), and prunes by expiry', async () => {
    await sut.insert(session('a1', 'amy', 1, 50));
    await sut.insert(session('a2', 'amy', 2, 500));
    await sut.insert(session('b1', 'bob', 3, 500));
    await sut.insert(session('b2', 'bob', 4, 500));
    expect(await sut.find('b2')).toEqual(session('b2', 'bob', 4, 500));
    await sut.delete(['b2']);
    await sut.delete([]);
    expect(await sut.find('b2')).toBeUndefined();
    expect((await sut.deleteAllOf('amy')).sort()).toEqual(['a1', 'a2']);
    expect(await sut.deleteAllOf('amy')).toEqual([]);
    expect(await sut.prune(1000)).toBe(1);
    expect(await sut.live(0)).toEqual([]);
  });
});
