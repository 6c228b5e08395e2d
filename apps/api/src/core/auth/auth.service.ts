import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import * as argon2 from 'argon2';
import { type LoginResponse, type Role, labelSelectorSchema } from '@iot/protocol';
import { ClusterChannel, type ClusterNotice, MAX_SESSION_IDS_PER_NOTICE } from '../../domain/cluster';
import { DomainError } from '../../domain/errors';
import { APP_CONFIG, type AppConfig, ConfigError } from '../../platform/config/config';
import { RateLimitedLog } from '../../platform/logging/rate-limited-log';
import { type SessionRecord, SessionRepository } from '../../domain/sessions';
import { type UserRecord, UserRepository } from '../../domain/users';
import { EventBus } from '../events/event-bus';
import type { AuthUser } from './auth-user';
import { LoginThrottle, addressKey } from './login-throttle';

/** The labels a user is limited to: none for admins or without a scope (one stored unreadable limits to nothing). */
export function scopeOf(user: Pick<UserRecord, 'role' | 'scope'>): ReadonlyMap<string, string> | null {
  if (user.role === 'admin' || user.scope === null) return null;
  const parsed = labelSelectorSchema.safeParse(user.scope);
  return parsed.success ? parsed.data : new Map([['', '']]);
}

/** The cookie that carries the session token for browsers. */
export const SESSION_COOKIE = 'iot_session';

interface TokenClaims {
  sub: string;
  role: Role;
  /** The session (SessionRecord.id); a token without a live one is refused. */
  sid: string;
}

/**
 * Under DATA_DIR: the generated password of the first admin, kept only while
 * it is true (removed when that admin's password changes or the admin goes).
 */
export const INITIAL_ADMIN_PASSWORD_FILE = 'initial-admin-password';

/** How often expired sessions are removed from memory and the database. */
const SESSION_PRUNE_INTERVAL_MS = 10 * 60_000;

/** What a login attempt came to: a session, wrong credentials, or refused unchecked until `retryAfterMs` has passed. */
export type LoginResult =
  | { outcome: 'ok'; response: LoginResponse }
  | { outcome: 'wrong' }
  | { outcome: 'throttled'; retryAfterMs: number };

/** argon2id for passwords of people (OWASP's baseline). */
const PASSWORD_HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * Users, passwords and sessions. A login makes a session (a row in
 * `sessions`, kept in memory like the users) and a token (JWT, HS256) that
 * names it; each request checks that the session is still live and takes
 * the user's current role. Logout ends the session; a new password, a new
 * role or deletion ends all of the user's, and the `sessions.ended` event
 * on the bus closes their open streams and sockets.
 *
 * With replicas, each keeps users and sessions in memory too: a change is
 * told to the others (ClusterChannel) before the request that made it is
 * answered, and a replica that does not know a session or user yet (made a
 * moment ago through another) reads it from the database.
 */
@Injectable()
export class AuthService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(AuthService.name);
  private readonly users = new Map<string, UserRecord>();
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly throttle: LoginThrottle;
  /** Failed and refused logins, at warn: never the password, and bounded so a flood cannot fill the disk. */
  private readonly failedLogins = new RateLimitedLog('failed logins', (fields, message) =>
    this.logger.warn(fields, message),
  );
  private pruner: NodeJS.Timeout | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly userRepository: UserRepository,
    private readonly sessionRepository: SessionRepository,
    private readonly jwt: JwtService,
    private readonly bus: EventBus,
    private readonly cluster: ClusterChannel,
  ) {
    this.throttle = new LoginThrottle({
      maxFailures: config.loginMaxFailures,
      maxFailuresPerAddress: config.loginMaxFailuresPerAddress,
      maxFailuresPerUser: config.loginMaxFailuresPerUser,
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const user of await this.userRepository.list()) this.users.set(user.username, user);
    for (const session of await this.sessionRepository.live(Date.now())) {
      if (this.users.has(session.username)) this.sessions.set(session.id, session);
    }
    this.pruner = setInterval(() => void this.pruneSessions(), SESSION_PRUNE_INTERVAL_MS);
    this.pruner.unref();
    if (this.users.size > 0) return;
    const username = this.config.adminUsername;
    let password = this.config.adminPassword;
    if (!password) {
      if (this.config.production) {
        throw new ConfigError(['ADMIN_PASSWORD is required to create the first admin in production']);
      }
      password = randomBytes(12).toString('base64url');
      // Like Jenkins' initialAdminPassword: printed once, and kept beside the database for local tools
      // until the admin changes it (updateUser removes the file).
      const file = join(this.config.dataDir, INITIAL_ADMIN_PASSWORD_FILE);
      writeFileSync(file, password + '\n', { mode: 0o600 });
      // Not in the log: `npm start` prints it while it is true, and logs are kept and shipped.
      this.logger.log(
        `created the first admin "${username}" with a generated password, in ${file} until it is changed`,
      );
    } else {
      this.logger.log(`created the first admin "${username}" from ADMIN_USERNAME/ADMIN_PASSWORD`);
    }
    try {
      await this.createUser(username, password, 'admin');
    } catch (error) {
      // Another replica starting beside this one made the first admin.
      if (!(error instanceof DomainError && error.code === 'conflict')) throw error;
      await this.reload();
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.pruner);
    this.failedLogins.close();
  }

  hashPassword(password: string): Promise<string> {
    return argon2.hash(password, PASSWORD_HASH_OPTIONS);
  }

  /** Throws `conflict` when the username is taken. */
  async createUser(username: string, password: string, role: Role, scope: string | null = null): Promise<UserRecord> {
    const passwordHash = await this.hashPassword(password);
    const user: UserRecord = { username, passwordHash, role, scope, createdAt: Date.now() };
    if (!(await this.userRepository.create(user))) throw new DomainError('conflict', `user ${username} exists`);
    this.users.set(username, user);
    // Sessions a crash left behind of an earlier user of this name must not become this one's.
    await this.endSessionsOf(username);
    await this.tell({ kind: 'user.changed', username });
    return user;
  }

  /** Throws `not_found` when there is no such user. */
  async updateUser(
    username: string,
    patch: { password?: string; role?: Role; scope?: string | null },
  ): Promise<UserRecord> {
    const passwordHash = patch.password === undefined ? undefined : await this.hashPassword(patch.password);
    if (!(await this.userRepository.update(username, { passwordHash, role: patch.role, scope: patch.scope }))) {
      throw new DomainError('not_found', `no user ${username}`);
    }
    const user = await this.userRepository.find(username);
    if (user) this.users.set(username, user);
    if (patch.password !== undefined) this.forgetInitialPassword(username);
    // Whoever knew the old password, or held the old role or scope, logs in again.
    await this.endSessionsOf(username);
    await this.tell({ kind: 'user.changed', username });
    // Deleted meanwhile.
    if (!user) throw new DomainError('not_found', `no user ${username}`);
    return user;
  }

  /**
   * A user's own password change: throttled and checked as a login is (a
   * stolen session cannot try passwords faster), then as an admin's change:
   * every session of the user ends, this one too. `bad_request` for a wrong
   * current password; `unavailable` with the wait while throttled.
   */
  async changeOwnPassword(username: string, current: string, next: string, address: string | undefined): Promise<void> {
    const retryAfterMs = await this.throttle.begin(username, address);
    if (retryAfterMs > 0) {
      throw new DomainError('unavailable', `too many wrong passwords; try again in ${Math.ceil(retryAfterMs / 1000)} s`);
    }
    const user = await this.user(username);
    const ok = user !== undefined && (await argon2.verify(user.passwordHash, current).catch(() => false));
    await this.throttle.settle(username, address, ok);
    if (!ok) throw new DomainError('bad_request', 'currentPassword: the current password is wrong');
    await this.updateUser(username, { password: next });
  }

  /** Throws `not_found` when there is no such user (after ending any session left of that name). */
  async deleteUser(username: string): Promise<void> {
    const deleted = await this.userRepository.delete(username);
    this.users.delete(username);
    if (deleted) this.forgetInitialPassword(username);
    await this.endSessionsOf(username);
    await this.tell({ kind: 'user.changed', username });
    if (!deleted) throw new DomainError('not_found', `no user ${username}`);
  }

  /** The generated first password is no longer true once the first admin changes it: nothing may print it again. */
  private forgetInitialPassword(username: string): void {
    if (username !== this.config.adminUsername) return;
    const file = join(this.config.dataDir, INITIAL_ADMIN_PASSWORD_FILE);
    try {
      rmSync(file, { force: true });
    } catch (error) {
      this.logger.warn(`could not remove ${file}, which no longer holds the password: ${(error as Error).message}`);
    }
  }

  listUsers(): UserRecord[] {
    return [...this.users.values()].sort((a, b) => a.username.localeCompare(b.username));
  }

  findUser(username: string): UserRecord | undefined {
    return this.users.get(username);
  }

  /**
   * Checks a password from `address` and opens a session. Throttled
   * attempts are refused before the password is hashed (LoginThrottle).
   */
  async login(username: string, password: string, address: string | undefined): Promise<LoginResult> {
    const retryAfterMs = await this.throttle.begin(username, address);
    if (retryAfterMs > 0) {
      const fields = { username, address, retryAfterMs };
      this.failedLogins.log(`${username}\n${addressKey(address)}`, fields, 'login refused: too many failed logins');
      return { outcome: 'throttled', retryAfterMs };
    }
    const user = await this.user(username);
    // Verify against a dummy hash for unknown users, so timing does not reveal who exists.
    const hash = user?.passwordHash ?? (await this.dummyHash());
    const ok = await argon2.verify(hash, password).catch(() => false);
    await this.throttle.settle(username, address, !!user && ok);
    if (!user || !ok) {
      this.failedLogins.log(`${username}\n${addressKey(address)}`, { username, address }, 'failed login');
      return { outcome: 'wrong' };
    }
    const session = await this.openSession(user.username);
    const claims: TokenClaims = { sub: user.username, role: user.role, sid: session.id };
    const accessToken = await this.jwt.signAsync(claims, { expiresIn: this.config.jwtTtlSeconds });
    return {
      outcome: 'ok',
      response: {
        accessToken,
        expiresIn: this.config.jwtTtlSeconds,
        user: { username: user.username, role: user.role, scope: user.scope },
      },
    };
  }

  /** Ends the session of a token, if it is live. */
  async logout(token: string): Promise<void> {
    const user = await this.verifyToken(token);
    if (user) await this.endSessions([user.sessionId]);
  }

  /** The user a token stands for, or undefined if it is invalid, expired, its session ended, or the user is gone. */
  async verifyToken(token: string): Promise<AuthUser | undefined> {
    let claims: TokenClaims;
    try {
      claims = await this.jwt.verifyAsync<TokenClaims>(token);
    } catch {
      return undefined;
    }
    const session = typeof claims.sid === 'string' ? await this.session(claims.sid) : undefined;
    if (!session || session.username !== claims.sub || session.expiresAt <= Date.now()) return undefined;
    const user = await this.user(session.username);
    return user && { username: user.username, role: user.role, sessionId: session.id, scope: scopeOf(user) };
  }

  /** A user from memory; with replicas, from the database when made through another one a moment ago. */
  private async user(username: string): Promise<UserRecord | undefined> {
    const known = this.users.get(username);
    if (known || !this.cluster.shared) return known;
    const stored = await this.userRepository.find(username);
    if (stored) this.users.set(username, stored);
    return stored;
  }

  /** A live session from memory; with replicas, from the database when opened through another one. */
  private async session(id: string): Promise<SessionRecord | undefined> {
    const known = this.sessions.get(id);
    if (known || !this.cluster.shared) return known;
    const stored = await this.sessionRepository.find(id);
    if (stored && this.users.has(stored.username)) this.sessions.set(id, stored);
    return stored;
  }

  /** Another replica ended these sessions: their streams and sockets here close too. */
  endedElsewhere(sessionIds: readonly string[]): void {
    const ended = new Set<string>();
    for (const id of sessionIds) if (this.sessions.delete(id)) ended.add(id);
    if (ended.size > 0) this.bus.emit('sessions.ended', ended);
  }

  /** Another replica changed or deleted a user: takes it as stored. */
  async changedElsewhere(username: string): Promise<void> {
    const user = await this.userRepository.find(username);
    if (user) this.users.set(username, user);
    else this.users.delete(username);
  }

  /**
   * Reads every user and live session again (the replicas' channel was lost,
   * so notices may have been missed); sessions gone from the database end here.
   */
  async reload(): Promise<void> {
    const users = await this.userRepository.list();
    const sessions = await this.sessionRepository.live(Date.now());
    this.users.clear();
    for (const user of users) this.users.set(user.username, user);
    const live = new Set(sessions.map((session) => session.id));
    const ended = new Set([...this.sessions.keys()].filter((id) => !live.has(id)));
    this.sessions.clear();
    for (const session of sessions) if (this.users.has(session.username)) this.sessions.set(session.id, session);
    if (ended.size > 0) this.bus.emit('sessions.ended', ended);
  }

  /** A new session for `username`; past MAX_SESSIONS_PER_USER the oldest live ones end. */
  private async openSession(username: string): Promise<SessionRecord> {
    const now = Date.now();
    const session: SessionRecord = {
      id: randomBytes(16).toString('base64url'),
      username,
      createdAt: now,
      expiresAt: now + this.config.jwtTtlSeconds * 1000,
    };
    const own = [...this.sessions.values()]
      .filter((s) => s.username === username)
      .sort((a, b) => a.createdAt - b.createdAt);
    const excess = own.length + 1 - this.config.maxSessionsPerUser;
    if (excess > 0) await this.endSessions(own.slice(0, excess).map((s) => s.id));
    await this.sessionRepository.insert(session);
    this.sessions.set(session.id, session);
    return session;
  }

  private async endSessions(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    for (const id of ids) this.sessions.delete(id);
    await this.sessionRepository.delete(ids);
    await this.notifyEnded(new Set(ids));
  }

  private async endSessionsOf(username: string): Promise<void> {
    // Out of memory first, so no request is let in while the database is written.
    const ids = new Set<string>();
    for (const [id, session] of this.sessions) {
      if (session.username === username) {
        this.sessions.delete(id);
        ids.add(id);
      }
    }
    for (const id of await this.sessionRepository.deleteAllOf(username)) ids.add(id);
    if (ids.size > 0) await this.notifyEnded(ids);
  }

  /** Sessions that end before they expire: their streams and sockets close (the edges listen), on every replica. */
  private async notifyEnded(ids: ReadonlySet<string>): Promise<void> {
    this.bus.emit('sessions.ended', ids);
    const list = [...ids];
    for (let at = 0; at < list.length; at += MAX_SESSION_IDS_PER_NOTICE) {
      await this.tell({ kind: 'sessions.ended', sessionIds: list.slice(at, at + MAX_SESSION_IDS_PER_NOTICE) });
    }
  }

  /** Tells the other replicas, if any. A notice that cannot be sent fails the request that made the change. */
  private async tell(notice: ClusterNotice): Promise<void> {
    if (this.cluster.shared) await this.cluster.announce(notice);
  }

  private async pruneSessions(): Promise<void> {
    const now = Date.now();
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
    try {
      await this.sessionRepository.prune(now);
    } catch (error) {
      this.logger.warn(`pruning expired sessions: ${(error as Error).message}`);
    }
  }

  private dummy: Promise<string> | undefined;
  private dummyHash(): Promise<string> {
    return (this.dummy ??= this.hashPassword(randomBytes(16).toString('hex')));
  }
}
