import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import * as argon2 from 'argon2';
import { isDeviceId } from '@iot/protocol';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { DeviceRepository } from '../../domain/devices';

/** OWASP's argon2id baseline: device secrets are random, so this is ample. */
export const DEVICE_HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * argon2 checks running at once, at most. Each takes a libuv thread (four by
 * default, shared with file and DNS work) for tens of milliseconds; a flood
 * of CONNECTs waits its turn instead of taking every thread.
 */
export const MAX_CONCURRENT_SECRET_CHECKS = 2;
/** CONNECTs waiting for an argon2 check, at most; more are refused as busy. */
export const MAX_WAITING_SECRET_CHECKS = 100;
/**
 * New secrets hashed at once, at most (registrations and rotations). Each
 * run takes 19 MiB of C heap; four at once (one per libuv thread) raised
 * the api's peak RSS by about 60 MiB while a fleet was registered.
 */
export const MAX_CONCURRENT_SECRET_HASHES = 2;
/** Hashes waiting, at most; more are refused (503). */
export const MAX_WAITING_SECRET_HASHES = 1000;
/** Failed CONNECTs are counted over this long (a block lasts `mqttAuthBlockMs`). */
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/** One source address may fail this many times the per-id allowance (devices may share a NAT). */
export const AUTH_FAILURES_PER_ADDRESS_FACTOR = 10;
/** Client ids and addresses tracked at most; the oldest are forgotten first. */
const MAX_TRACKED = 10_000;

/** How a CONNECT's credentials were judged. */
export type DeviceAuthOutcome = 'ok' | 'refused' | 'throttled' | 'busy';

interface Failures {
  count: number;
  since: number;
  blockedUntil: number;
}

/**
 * Counts failures per key in a window; past the allowance the key is blocked
 * for a while. Not rate-limiter-flexible (which the login throttle uses): any
 * client id can be made up for nothing, so this one has to bound the keys it
 * tracks (MAX_TRACKED), which that library's memory store does not.
 */
class FailureThrottle {
  private readonly entries = new Map<string, Failures>();

  constructor(
    private readonly allowance: number,
    private readonly blockMs: number,
  ) {}

  blocked(key: string, now: number): boolean {
    const entry = this.entries.get(key);
    return entry !== undefined && entry.blockedUntil > now;
  }

  fail(key: string, now: number): void {
    let entry = this.entries.get(key);
    const stale =
      entry === undefined ||
      (entry.blockedUntil > 0 ? entry.blockedUntil <= now : now - entry.since > AUTH_FAILURE_WINDOW_MS);
    if (entry === undefined || stale) {
      // A new window, or the block has run out: start counting again.
      this.entries.delete(key);
      if (this.entries.size >= MAX_TRACKED) this.entries.delete(this.entries.keys().next().value as string);
      entry = { count: 0, since: now, blockedUntil: 0 };
      this.entries.set(key, entry);
    }
    if (++entry.count >= this.allowance) entry.blockedUntil = now + this.blockMs;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}

/** Runs at most `limit` tasks at once; the rest wait in order, up to `maxWaiting`. */
class Slots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly limit: number,
    private readonly maxWaiting: number,
  ) {}

  /** Undefined when too many are waiting already. */
  run<T>(task: () => Promise<T>): Promise<T> | undefined {
    let start: Promise<void>;
    if (this.running < this.limit) {
      this.running++;
      start = Promise.resolve();
    } else if (this.waiting.length < this.maxWaiting) {
      start = new Promise<void>((go) => this.waiting.push(go)); // the slot is handed over, still counted
    } else {
      return undefined;
    }
    return start.then(task).finally(() => {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    });
  }
}

/**
 * Checks device credentials against their argon2 hashes. A verified secret
 * is remembered as a SHA-256 digest so that reconnect storms do not cost an
 * argon2 run each; rotation and deletion forget it at once. Guessing is
 * throttled per client id and per source address before argon2 runs; a
 * device whose secret was verified since the api started is recognised
 * without argon2 and is never blocked by someone guessing its id.
 */
@Injectable()
export class DeviceAuthService {
  private readonly logger = new Logger(DeviceAuthService.name);
  private readonly verified = new Map<string, Buffer>();
  private readonly perId: FailureThrottle;
  private readonly perAddress: FailureThrottle;
  private readonly checks = new Slots(MAX_CONCURRENT_SECRET_CHECKS, MAX_WAITING_SECRET_CHECKS);
  private readonly hashes = new Slots(MAX_CONCURRENT_SECRET_HASHES, MAX_WAITING_SECRET_HASHES);

  constructor(
    private readonly devices: DeviceRepository,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'mqttAuthMaxFailures' | 'mqttAuthBlockMs'>,
  ) {
    this.perId = new FailureThrottle(config.mqttAuthMaxFailures, config.mqttAuthBlockMs);
    this.perAddress = new FailureThrottle(
      config.mqttAuthMaxFailures * AUTH_FAILURES_PER_ADDRESS_FACTOR,
      config.mqttAuthBlockMs,
    );
  }

  async hashSecret(secret: string): Promise<string> {
    const hash = this.hashes.run(() => argon2.hash(secret, DEVICE_HASH_OPTIONS));
    if (hash === undefined) throw new ServiceUnavailableException('too many device secrets being hashed; try again');
    return hash;
  }

  /** Judges a device's CONNECT from `address`, throttling failures before any argon2 run. */
  async authenticate(
    deviceId: string,
    secret: Buffer | undefined,
    address: string | undefined,
  ): Promise<DeviceAuthOutcome> {
    if (!isDeviceId(deviceId) || secret === undefined || secret.length === 0 || secret.length > 256) return 'refused';
    const digest = createHash('sha256').update(secret).digest();
    if (this.isKnown(deviceId, digest)) return 'ok';
    const now = Date.now();
    const from = address ?? '';
    if (this.perId.blocked(deviceId, now) || this.perAddress.blocked(from, now)) return 'throttled';
    const check = this.checks.run(() => this.check(deviceId, secret, digest));
    if (check === undefined) return 'busy';
    if (await check) {
      this.perId.forget(deviceId);
      return 'ok';
    }
    const failedAt = Date.now();
    this.perId.fail(deviceId, failedAt);
    this.perAddress.fail(from, failedAt);
    return 'refused';
  }

  private isKnown(deviceId: string, digest: Buffer): boolean {
    const known = this.verified.get(deviceId);
    return known !== undefined && timingSafeEqual(known, digest);
  }

  private async check(deviceId: string, secret: Buffer, digest: Buffer): Promise<boolean> {
    const hash = await this.devices.getSecretHash(deviceId);
    if (hash === undefined) return false;
    try {
      if (!(await argon2.verify(hash, secret))) return false;
      // The secret may have been rotated or revoked while argon2 ran: only a current one counts.
      if ((await this.devices.getSecretHash(deviceId)) !== hash) return false;
      this.verified.set(deviceId, digest);
      return true;
    } catch (error) {
      this.logger.warn(`could not verify ${deviceId}: ${String(error)}`);
      return false;
    }
  }

  /** Forgets a device's verified secret (rotation, deletion). */
  forget(deviceId: string): void {
    this.verified.delete(deviceId);
  }
}
