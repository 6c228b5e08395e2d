import * as argon2 from 'argon2';
import type { DeviceRepository } from '../../domain/devices';
import { strictFake } from '../../domain/testing';
import {
  AUTH_FAILURES_PER_ADDRESS_FACTOR,
  DEVICE_HASH_OPTIONS,
  DeviceAuthService,
  MAX_CONCURRENT_SECRET_CHECKS,
  MAX_CONCURRENT_SECRET_HASHES,
  MAX_WAITING_SECRET_CHECKS,
} from './device-auth.service';

jest.mock('argon2', () => {
  const actual = jest.requireActual<typeof import('argon2')>('argon2');
  return { ...actual, hash: jest.fn(actual.hash) };
});

const SECRET = Buffer.from('the-right-secret');
const WRONG = Buffer.from('a-wrong-secret');
const config = { mqttAuthMaxFailures: 3, mqttAuthBlockMs: 10_000 };

describe('DeviceAuthService', () => {
  let hash: string;
  let lookups: number;
  let now: number;
  let auth: DeviceAuthService;

  beforeAll(async () => {
    // A cheap hash keeps the test fast; the service verifies whatever parameters the hash names.
    hash = await argon2.hash(SECRET, { ...DEVICE_HASH_OPTIONS, memoryCost: 1024, timeCost: 1 });
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

  afterEach(() => jest.restoreAllMocks());

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

  it(`hashes at most ${MAX_CONCURRENT_SECRET_HASHES} new secrets at once, the rest in turn`, async () => {
    let running = 0;
    let most = 0;
    const release: Array<() => void> = [];
    const count = MAX_CONCURRENT_SECRET_HASHES + 3;
    for (let i = 0; i < count; i++) {
      jest.mocked(argon2.hash).mockImplementationOnce(() => {
        most = Math.max(most, ++running);
        return new Promise<string>((resolve) =>
          release.push(() => {
            running--;
            resolve('$argon2id$hash');
          }),
        );
      });
    }
    const sut = auth;
    const hashes = Array.from({ length: count }, (_, i) => sut.hashSecret(`secret-${i}`));
    let settled = 0;
    for (const hash of hashes) void hash.then(() => settled++);
    for (let turn = 0; settled < count && turn < 1000; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      release.shift()?.();
    }
    expect(await Promise.all(hashes)).toEqual(hashes.map(() => '$argon2id$hash'));
    expect(most).toBe(MAX_CONCURRENT_SECRET_HASHES);
  });

  it(`runs ${MAX_CONCURRENT_SECRET_CHECKS} secret checks at once, queues ${MAX_WAITING_SECRET_CHECKS} more, and refuses the rest as busy`, async () => {
    let running = 0;
    let most = 0;
    const release: Array<() => void> = [];
    const devices = strictFake<DeviceRepository>({
      getSecretHash: () => {
        most = Math.max(most, ++running);
        return new Promise<string | undefined>((resolve) =>
          release.push(() => {
            running--;
            resolve(undefined); // unknown device: refused without argon2
          }),
        );
      },
    });
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
