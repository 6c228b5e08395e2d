import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import * as argon2 from 'argon2';
import type { LoginResponse, Role } from '@iot/protocol';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { Storage, type UserRecord } from '../storage/storage';
import type { AuthUser } from './decorators';

/** The cookie that carries the session token for browsers. */
export const SESSION_COOKIE = 'iot_session';

interface TokenClaims {
  sub: string;
  role: Role;
}

/** argon2id for passwords of people (OWASP's baseline). */
const PASSWORD_HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * Users, passwords and session tokens (JWT, HS256). A token names its user;
 * each request checks that the user still exists and takes its current role,
 * so deleting a user or lowering a role takes effect at once.
 */
@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AuthService.name);
  private readonly users = new Map<string, UserRecord>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly storage: Storage,
    private readonly jwt: JwtService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const user of await this.storage.listUsers()) this.users.set(user.username, user);
    if (this.users.size > 0) return;
    const username = this.config.adminUsername;
    let password = this.config.adminPassword;
    if (!password) {
      if (this.config.production) throw new Error('ADMIN_PASSWORD is required to create the first admin in production');
      password = randomBytes(12).toString('base64url');
      // Like Jenkins' initialAdminPassword: printed once, and kept beside the database for local tools.
      const file = join(this.config.dataDir, 'initial-admin-password');
      writeFileSync(file, password + '\n', { mode: 0o600 });
      this.logger.log(`created the first admin "${username}" with password ${password} (also in ${file})`);
    } else {
      this.logger.log(`created the first admin "${username}" from ADMIN_USERNAME/ADMIN_PASSWORD`);
    }
    await this.createUser(username, password, 'admin');
  }

  hashPassword(password: string): Promise<string> {
    return argon2.hash(password, PASSWORD_HASH_OPTIONS);
  }

  async createUser(username: string, password: string, role: Role): Promise<UserRecord | undefined> {
    const user: UserRecord = { username, passwordHash: await this.hashPassword(password), role, createdAt: Date.now() };
    if (!(await this.storage.createUser(user))) return undefined;
    this.users.set(username, user);
    return user;
  }

  async updateUser(username: string, patch: { password?: string; role?: Role }): Promise<UserRecord | undefined> {
    const passwordHash = patch.password === undefined ? undefined : await this.hashPassword(patch.password);
    if (!(await this.storage.updateUser(username, { passwordHash, role: patch.role }))) return undefined;
    const user = await this.storage.findUser(username);
    if (user) this.users.set(username, user);
    return user;
  }

  async deleteUser(username: string): Promise<boolean> {
    const deleted = await this.storage.deleteUser(username);
    this.users.delete(username);
    return deleted;
  }

  listUsers(): UserRecord[] {
    return [...this.users.values()].sort((a, b) => a.username.localeCompare(b.username));
  }

  findUser(username: string): UserRecord | undefined {
    return this.users.get(username);
  }

  /** Checks a password; undefined when the user or password is wrong. */
  async login(username: string, password: string): Promise<LoginResponse | undefined> {
    const user = this.users.get(username);
    // Verify against a dummy hash for unknown users, so timing does not reveal who exists.
    const hash = user?.passwordHash ?? (await this.dummyHash());
    const ok = await argon2.verify(hash, password).catch(() => false);
    if (!user || !ok) return undefined;
    const claims: TokenClaims = { sub: user.username, role: user.role };
    const accessToken = await this.jwt.signAsync(claims, { expiresIn: this.config.jwtTtlSeconds });
    return { accessToken, expiresIn: this.config.jwtTtlSeconds, user: { username: user.username, role: user.role } };
  }

  /** The user a token stands for, or undefined if it is invalid, expired, or the user is gone. */
  async verifyToken(token: string): Promise<AuthUser | undefined> {
    try {
      const claims = await this.jwt.verifyAsync<TokenClaims>(token);
      const user = this.users.get(claims.sub);
      return user && { username: user.username, role: user.role };
    } catch {
      return undefined;
    }
  }

  private dummy: Promise<string> | undefined;
  private dummyHash(): Promise<string> {
    return (this.dummy ??= this.hashPassword(randomBytes(16).toString('hex')));
  }
}
