import * as argon2 from 'argon2';
import type { DeviceRepository } from '../../domain/devices';
import { strictFake } from '../../domain/testing';
import {
  AUTH_FAILURES_PER_ADDRESS_FACTOR,
  DeviceAuthService,
  MAX_CONCURRENT_SECRET_CHECKS,
  MAX_WAITING_SECRET_CHECKS,
} from './device-auth.service';

jest.mock('argon2', () => {
  const actual = jest.requireActual<typeof import('argon2')>('argon2');
  return { ...actual, verify: jest.fn(actual.verify) };
});

const SECRET = Buffer.from('the-right-secret');
const WRONG = Buffer.from('a-wrong-secret');
const config = { mqttAuthMaxFailures: 3, mqttAuthBlockMs: 10_000 };

describe('DeviceAuthService', () => {
  let legacyHash: string;
  let hash: string;
  let lookups: number;
  let now: number;
  let auth: DeviceAuthService;

  beforeAll(async () => {
    // A secret stored before digests were kept: argon2, whose parameters the hash names (cheap ones here).
    legacyHash = await argon2.hash(SECRET, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1 });
    hash = legacyHash;
  });

  beforeEach(() => {
    lookups = 0;
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    const devices = strictFake<DeviceRepository>(
      {
        getSecretHash: async () => {
          lookups++;
          return hash;
        },
      },
      'devices',
    );
    auth = new DeviceAuthService(devices, config);
  });

  afterEach(() => {
    jest.restoreAllMocks();
    jest.mocked(argon2.verify).mockClear();
  });

  it('blocks a client id after its allowance of wrong secrets, without checking, until the block time has passed', async () => {
    for (let i = 0; i < config.mqttAuthMaxFailures; i++) {
      expect(await auth.authenticate('dev-1', WRONG, '10.0.0.1')).toBe('refused');
    }
    const checked = lookups;
    expect(await auth.authenticate('dev-1', WRONG, '10.0.0.2')).toBe('throttled');
    expect(await auth.authenticate('dev-1', SECRET, '10.0.0.2')).toBe('throttled');
    expect(lookups).toBe(checked); // no argon2 run while blocked
    expect(await auth.authenticate('dev-2', SECRET, '10.0.0.1')).toBe('ok'); // another device is not affected

    now += config.mqttAuthBlockMs - 1;
    expect(await auth.authenticate('dev-1', SECRET, '10.0.0.1')).toBe('throttled');
    now += 1;
    expect(await auth.authenticate('dev-1', SECRET, '10.0.0.1')).toBe('ok');
  });

  it('never blocks a device whose secret it has verified, whoever guesses its id', async () => {
    expect(await auth.authenticate('dev-1', SECRET, '10.0.0.1')).toBe('ok');
    for (let i = 0; i < config.mqttAuthMaxFailures + 2; i++) await auth.authenticate('dev-1', WRONG, '10.6.6.6');
    expect(await auth.authenticate('dev-1', WRONG, '10.6.6.6')).toBe('throttled');
    expect(await auth.authenticate('dev-1', SECRET, '10.0.0.1')).toBe('ok');
  });

  it('blocks a source address that fails for many ids', async () => {
    const allowance = config.mqttAuthMaxFailures * AUTH_FAILURES_PER_ADDRESS_FACTOR;
    for (let i = 0; i < allowance; i++) {
      expect(await auth.authenticate(`guess-${i}`, WRONG, '10.6.6.6')).toBe('refused');
    }
    expect(await auth.authenticate('dev-1', SECRET, '10.6.6.6')).toBe('throttled');
    expect(await auth.authenticate('dev-1', SECRET, '10.0.0.1')).toBe('ok');
  });

  it('stores a new secret as its SHA-256 digest, which verifies it and no other', async () => {
    const stored = auth.hashSecret(SECRET.toString());
    expect(stored).toMatch(/^\$sha256\$[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain(SECRET.toString());
    hash = stored;
    try {
      expect(await auth.authenticate('dev-1', WRONG, '10.0.0.1')).toBe('refused');
      expect(await auth.authenticate('dev-1', SECRET, '10.0.0.1')).toBe('ok');
      expect(argon2.verify).not.toHaveBeenCalled();
    } finally {
      hash = legacyHash;
    }
  });

  it('refuses a secret whose rotation landed while its hash was being read', async () => {
    const old = auth.hashSecret(SECRET.toString());
    let reads = 0;
    let release: (() => void) | undefined;
    const devices = strictFake<DeviceRepository>({
      getSecretHash: () => {
        if (++reads > 1) return Promise.resolve('$sha256$rotated');
        return new Promise((resolve) => (release = () => resolve(old)));
      },
    });
    const sut = new DeviceAuthService(devices, config);
    const attempt = sut.authenticate('dev-1', SECRET, '10.0.0.1');
    await new Promise((resolve) => setImmediate(resolve));
    sut.forget('dev-1'); // the rotation, after its new hash was stored
    release?.();
    expect(await attempt).toBe('refused');
  });

  it(`runs ${MAX_CONCURRENT_SECRET_CHECKS} argon2 checks at once, queues ${MAX_WAITING_SECRET_CHECKS} more, and refuses the rest as busy`, async () => {
    let running = 0;
    let most = 0;
    const release: Array<() => void> = [];
    jest.spyOn(argon2, 'verify').mockImplementation(() => {
      most = Math.max(most, ++running);
      return new Promise<boolean>((resolve) =>
        release.push(() => {
          running--;
          resolve(false);
        }),
      );
    });
    const devices = strictFake<DeviceRepository>({ getSecretHash: async () => legacyHash });
    auth = new DeviceAuthService(devices, { mqttAuthMaxFailures: 1000, mqttAuthBlockMs: 1000 });
    const attempts = Array.from({ length: MAX_CONCURRENT_SECRET_CHECKS + MAX_WAITING_SECRET_CHECKS }, (_, i) =>
      auth.authenticate(`dev-${i}`, SECRET, `10.0.${i >> 8}.${i & 255}`),
    );
    expect(await auth.authenticate('one-more', SECRET, '10.1.0.1')).toBe('busy');
    let settled = 0;
    for (const attempt of attempts) void attempt.then(() => settled++);
    for (let turn = 0; settled < attempts.length && turn < 10_000; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      release.splice(0).forEach((go) => go());
    }
    expect(await Promise.all(attempts)).toEqual(attempts.map(() => 'refused'));
    expect(most).toBe(MAX_CONCURRENT_SECRET_CHECKS);
  });
});
