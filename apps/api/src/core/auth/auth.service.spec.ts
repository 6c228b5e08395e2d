import { Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import * as argon2 from 'argon2';
import type { SessionRecord, SessionRepository } from '../../domain/sessions';
import type { ClusterChannel, ClusterNotice } from '../../domain/cluster';
import { refusalOf, strictFake } from '../../domain/testing';
import type { UserRecord, UserRepository } from '../../domain/users';
import type { AppConfig } from '../../platform/config/config';
import { EventBus } from '../events/event-bus';
import { AuthService, scopeOf } from './auth.service';

const alone = strictFake<ClusterChannel>({ shared: false }, 'cluster');

const NOW = Date.UTC(2026, 0, 1);
const PASSWORD = 'correct horse';


describe('AuthService', () => {
  let alice: UserRecord;
  let inserted: SessionRecord[];
  let deleted: string[][];
  /** What `deleteAllOf` answers: sessions only the database still had (say, from before a crash). */
  let storedOnly: string[];
  let ended: Array<string[]>;
  let sut: AuthService;
  /** Alice as the repository has her now. */
  let stored: UserRecord;

  beforeAll(async () => {
    Logger.overrideLogger(false);
    // A cheap hash keeps the test fast; verify takes whatever parameters the hash names.
    const passwordHash = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1 });
    alice = { username: 'alice', passwordHash, role: 'operator', scope: null, createdAt: NOW };
  });

  beforeEach(async () => {
    jest.useFakeTimers({ now: NOW, doNotFake: ['setImmediate', 'nextTick'] });
    stored = alice;
    inserted = [];
    deleted = [];
    storedOnly = [];
    ended = [];
    const users = strictFake<UserRepository>(
      {
        list: async () => [alice],
        find: async (username) => (username === 'alice' ? stored : undefined),
        create: async (user) => user.username !== 'alice',
        update: async (username, patch) => {
          if (username !== 'alice') return false;
          if (patch.scope !== undefined) stored = { ...stored, scope: patch.scope };
          if (patch.role !== undefined) stored = { ...stored, role: patch.role };
          return true;
        },
        delete: async (username) => username === 'alice',
      },
      'users',
    );
    const sessions = strictFake<SessionRepository>(
      {
        live: async () => [],
        insert: async (session) => void inserted.push(session),
        delete: async (ids) => void deleted.push([...ids]),
        deleteAllOf: async () => storedOnly,
      },
      'sessions',
    );
    const bus = new EventBus();
    bus.on('sessions.ended', (ids) => ended.push([...ids].sort()));
    const config = {
      adminUsername: 'admin',
      jwtTtlSeconds: 3_600,
      maxSessionsPerUser: 2,
      loginMaxFailures: 100,
      loginMaxFailuresPerAddress: 100,
      loginMaxFailuresPerUser: 100,
    } as AppConfig;
    sut = new AuthService(config, users, sessions, new JwtService({ secret: 'a test secret' }), bus, alone);
    await sut.onApplicationBootstrap();
  });

  afterEach(() => {
    sut.onModuleDestroy();
    jest.useRealTimers();
  });

  /** Logs alice in; the token and the id of its session. */
  async function login(): Promise<{ token: string; sessionId: string }> {
    const result = await sut.login('alice', PASSWORD, '10.0.0.1');
    if (result.outcome !== 'ok') throw new Error(`login: ${result.outcome}`);
    return { token: result.response.accessToken, sessionId: inserted[inserted.length - 1].id };
  }

  it('opens a session on login that the token names, and ends it on logout with sessions.ended on the bus', async () => {
    const { token, sessionId } = await login();
    expect(inserted).toEqual([{ id: sessionId, username: 'alice', createdAt: NOW, expiresAt: NOW + 3_600_000 }]);
    expect(await sut.verifyToken(token)).toEqual({ username: 'alice', role: 'operator', sessionId, scope: null });

    await sut.logout(token);

    expect(deleted).toEqual([[sessionId]]);
    expect(ended).toEqual([[sessionId]]);
    expect(await sut.verifyToken(token)).toBeUndefined();
  });

  it('refuses a wrong password without opening a session', async () => {
    expect(await sut.login('alice', 'wrong', '10.0.0.1')).toEqual({ outcome: 'wrong' });
    expect([inserted, ended]).toEqual([[], []]);
  });

  it('ends the oldest session past the number allowed per user', async () => {
    const first = await login();
    jest.setSystemTime(NOW + 1);
    const second = await login();
    jest.setSystemTime(NOW + 2);
    const third = await login();

    expect(ended).toEqual([[first.sessionId]]);
    expect(await sut.verifyToken(first.token)).toBeUndefined();
    expect(await sut.verifyToken(second.token)).toBeDefined();
    expect(await sut.verifyToken(third.token)).toBeDefined();
  });

  it('ends every session of a user whose role changes, those in memory and those only stored, in one event', async () => {
    const first = await login();
    const second = await login();
    storedOnly = ['left-by-a-crash'];

    await sut.updateUser('alice', { role: 'viewer' });

    expect(ended).toEqual([[first.sessionId, second.sessionId, 'left-by-a-crash'].sort()]);
    expect(await sut.verifyToken(first.token)).toBeUndefined();
    expect(await sut.verifyToken(second.token)).toBeUndefined();
  });

  it("puts the user's scope on each request's user, ends the sessions when it changes, and never limits an admin", async () => {
    const before = await login();
    expect((await sut.verifyToken(before.token))?.scope).toBeNull();

    await sut.updateUser('alice', { scope: 'site=a,floor=2' });
    expect(ended).toEqual([[before.sessionId]]);
    expect(await sut.verifyToken(before.token)).toBeUndefined();
    const scoped = await login();
    expect([...((await sut.verifyToken(scoped.token))?.scope ?? [])]).toEqual([
      ['site', 'a'],
      ['floor', '2'],
    ]);

    await sut.updateUser('alice', { role: 'admin' });
    const admin = await login();
    expect(sut.findUser('alice')?.scope).toBe('site=a,floor=2');
    expect((await sut.verifyToken(admin.token))?.scope).toBeNull();
  });

  it('reads a scope stored unreadable as one no device matches, never as none', () => {
    expect([...(scopeOf({ role: 'viewer', scope: ',,' }) ?? [])]).toEqual([['', '']]);
    expect(scopeOf({ role: 'viewer', scope: null })).toBeNull();
  });

  it('announces nothing when a change ends no session', async () => {
    await sut.updateUser('alice', { role: 'viewer' });
    expect(ended).toEqual([]);
  });

  it('ends the sessions left of a user that is not there, then refuses the delete with not_found', async () => {
    storedOnly = ['left-by-a-crash'];
    expect(await refusalOf(() => sut.deleteUser('bob'))).toBe('not_found');
    expect(ended).toEqual([['left-by-a-crash']]);
  });

  it('ends the sessions of a deleted user', async () => {
    const { token, sessionId } = await login();
    await sut.deleteUser('alice');
    expect(ended).toEqual([[sessionId]]);
    expect(await sut.verifyToken(token)).toBeUndefined();
  });

  it('refuses a taken username with conflict and an unknown one to update with not_found', async () => {
    expect(await refusalOf(() => sut.createUser('alice', 'another password', 'viewer'))).toBe('conflict');
    expect(await refusalOf(() => sut.updateUser('bob', { role: 'viewer' }))).toBe('not_found');
    expect(ended).toEqual([]);
  });
  describe('with replicas (a shared database)', () => {
    /** Two replicas on one store: sessions and users as the database has them, notices as sent. */
    let table: Map<string, SessionRecord>;
    let people: Map<string, UserRecord>;
    let notices: ClusterNotice[];

    function replica(bus: EventBus): AuthService {
      const users = strictFake<UserRepository>(
        {
          list: async () => [...people.values()],
          find: async (username) => people.get(username),
          create: async (user) => !people.has(user.username) && !!people.set(user.username, user),
        },
        'users',
      );
      const sessions = strictFake<SessionRepository>(
        {
          live: async () => [...table.values()],
          find: async (id) => table.get(id),
          insert: async (session) => void table.set(session.id, session),
          delete: async (ids) => ids.forEach((id) => table.delete(id)),
          deleteAllOf: async () => [],
        },
        'sessions',
      );
      const cluster = strictFake<ClusterChannel>(
        { shared: true, announce: async (notice) => void notices.push(notice) },
        'cluster',
      );
      const config = {
        adminUsername: 'alice',
        jwtTtlSeconds: 3_600,
        maxSessionsPerUser: 5,
        loginMaxFailures: 100,
        loginMaxFailuresPerAddress: 100,
        loginMaxFailuresPerUser: 100,
      } as AppConfig;
      return new AuthService(config, users, sessions, new JwtService({ secret: 'a shared secret' }), bus, cluster);
    }

    it('lets in through one replica a session opened through another, and ends it there when told', async () => {
      table = new Map();
      people = new Map([['alice', alice]]);
      notices = [];
      const busB = new EventBus();
      const endedOnB: string[][] = [];
      busB.on('sessions.ended', (ids) => endedOnB.push([...ids]));
      const [a, b] = [replica(new EventBus()), replica(busB)];
      await a.onApplicationBootstrap();
      await b.onApplicationBootstrap();

      const result = await a.login('alice', PASSWORD, undefined);
      if (result.outcome !== 'ok') throw new Error(result.outcome);
      const token = result.response.accessToken;
      const user = await b.verifyToken(token);
      expect(user).toMatchObject({ username: 'alice', role: 'operator' });

      await a.logout(token);
      expect(notices).toEqual([{ kind: 'sessions.ended', sessionIds: [user!.sessionId] }]);
      b.endedElsewhere(notices[0].kind === 'sessions.ended' ? notices[0].sessionIds : []);
      expect(endedOnB).toEqual([[user!.sessionId]]);
      expect(await b.verifyToken(token)).toBeUndefined();
      a.onModuleDestroy();
      b.onModuleDestroy();
    });

    it('logs in through one replica a user made through another a moment ago, and takes a change when told', async () => {
      table = new Map();
      people = new Map([['alice', alice]]);
      notices = [];
      const [a, b] = [replica(new EventBus()), replica(new EventBus())];
      await a.onApplicationBootstrap();
      await b.onApplicationBootstrap();

      await a.createUser('bob', PASSWORD, 'viewer');
      expect(notices).toContainEqual({ kind: 'user.changed', username: 'bob' });
      expect((await b.login('bob', PASSWORD, undefined)).outcome).toBe('ok');
      people.delete('bob');
      await b.changedElsewhere('bob');
      expect(b.findUser('bob')).toBeUndefined();
      a.onModuleDestroy();
      b.onModuleDestroy();
    });
  });
});
