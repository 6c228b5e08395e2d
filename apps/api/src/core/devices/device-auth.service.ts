import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import * as argon2 from 'argon2';
import { isDeviceId } from '@iot/protocol';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { DeviceRepository } from '../../domain/devices';

/**
 * How a device secret is stored: its SHA-256 digest. The api makes every
 * secret itself, 160 random bits (`newSecret`), so a stolen hash cannot be
 * brute-forced however fast the hash is; argon2's cost protects passwords
 * people choose, and for device secrets it only made every first CONNECT
 * after a restart cost tens of milliseconds of CPU and 19 MiB of memory.
 * API tokens are kept the same way (GitHub, Stripe).
 */
export const DEVICE_SECRET_HASH_PREFIX = '$sha256$';

/** The stored form of a device secret. */
export function deviceSecretHash(secret: string | Buffer): string {
  return DEVICE_SECRET_HASH_PREFIX + createHash('sha256').update(secret).digest('base64url');
}

/**
 * argon2 checks running at once, at most: secrets stored before they were
 * kept as SHA-256 digests are still argon2 hashes until their next rotation.
 * Each takes a libuv thread (four by default, shared with file and DNS work)
 * for tens of milliseconds and 19 MiB; a flood of CONNECTs waits its turn
 * instead of taking every thread.
 */
export const MAX_CONCURRENT_SECRET_CHECKS = 2;
/** CONNECTs waiting for an argon2 check, at most; more are refused as busy. */
export const MAX_WAITING_SECRET_CHECKS = 100;
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
 * Checks device credentials against their stored hashes. A verified secret
 * is remembered as its digest so that reconnect storms do not read the
 * database each; rotation and deletion forget it at once. Guessing is
 * throttled per client id and per source address before any check; a
 * device whose secret was verified since the api started is recognised at
 * once and is never blocked by someone guessing its id.
 */
@Injectable()
export class DeviceAuthService {
  private readonly logger = new Logger(DeviceAuthService.name);
  private readonly verified = new Map<string, Buffer>();
  /** Forgotten secrets so far: a check that saw this change re-reads the hash it judged by. */
  private forgets = 0;
  private readonly perId: FailureThrottle;
  private readonly perAddress: FailureThrottle;
  private readonly checks = new Slots(MAX_CONCURRENT_SECRET_CHECKS, MAX_WAITING_SECRET_CHECKS);

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

  hashSecret(secret: string): string {
    return deviceSecretHash(secret);
  }

  /** Judges a device's CONNECT from `address`, throttling failures before any check. */
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
    const outcome = await this.check(deviceId, secret, digest);
    if (outcome === 'ok') this.perId.forget(deviceId);
    if (outcome !== 'refused') return outcome;
    const failedAt = Date.now();
    this.perId.fail(deviceId, failedAt);
    this.perAddress.fail(from, failedAt);
    return 'refused';
  }

  private isKnown(deviceId: string, digest: Buffer): boolean {
    const known = this.verified.get(deviceId);
    return known !== undefined && timingSafeEqual(known, digest);
  }

  private async check(deviceId: string, secret: Buffer, digest: Buffer): Promise<'ok' | 'refused' | 'busy'> {
    const forgetsBefore = this.forgets;
    const hash = await this.devices.getSecretHash(deviceId);
    if (hash === undefined) return 'refused';
    if (hash.startsWith(DEVICE_SECRET_HASH_PREFIX)) {
      const stored = Buffer.from(hash.slice(DEVICE_SECRET_HASH_PREFIX.length), 'base64url');
      if (stored.length !== digest.length || !timingSafeEqual(stored, digest)) return 'refused';
      // A rotation may have landed while the hash was read: only a current one counts.
      if (this.forgets !== forgetsBefore && (await this.devices.getSecretHash(deviceId)) !== hash) return 'refused';
    } else {
      const verify = this.checks.run(() => argon2.verify(hash, secret));
      if (verify === undefined) return 'busy';
      try {
        if (!(await verify)) return 'refused';
      } catch (error) {
        this.logger.warn(`could not verify ${deviceId}: ${String(error)}`);
        return 'refused';
      }
      // The secret may have been rotated or revoked while argon2 ran: only a current one counts.
      if ((await this.devices.getSecretHash(deviceId)) !== hash) return 'refused';
    }
    this.verified.set(deviceId, digest);
    return 'ok';
  }

  /** Forgets a device's verified secret (rotation, deletion). */
  forget(deviceId: string): void {
    this.forgets++;
    this.verified.delete(deviceId);
  }
}
