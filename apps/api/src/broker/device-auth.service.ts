import { createHash, timingSafeEqual } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import * as argon2 from 'argon2';
import { isDeviceId } from '@iot/protocol';
import { Storage } from '../storage/storage';

/** OWASP's argon2id baseline: device secrets are random, so this is ample. */
export const DEVICE_HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * Checks device credentials against their argon2 hashes. A verified secret
 * is remembered as a SHA-256 digest so that reconnect storms do not cost an
 * argon2 run each; rotation and deletion forget it at once.
 */
@Injectable()
export class DeviceAuthService {
  private readonly logger = new Logger(DeviceAuthService.name);
  private readonly verified = new Map<string, Buffer>();

  constructor(private readonly storage: Storage) {}

  async hashSecret(secret: string): Promise<string> {
    return argon2.hash(secret, DEVICE_HASH_OPTIONS);
  }

  async verify(deviceId: string, secret: Buffer | string | undefined): Promise<boolean> {
    if (!isDeviceId(deviceId) || secret === undefined || secret.length === 0 || secret.length > 256) return false;
    const digest = createHash('sha256').update(secret).digest();
    const known = this.verified.get(deviceId);
    if (known && timingSafeEqual(known, digest)) return true;
    const hash = await this.storage.getSecretHash(deviceId);
    if (hash === undefined) return false;
    try {
      if (!(await argon2.verify(hash, Buffer.isBuffer(secret) ? secret : Buffer.from(secret)))) return false;
      // The secret may have been rotated or revoked while argon2 ran: only a current one counts.
      if ((await this.storage.getSecretHash(deviceId)) !== hash) return false;
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
