import { DomainError, type DomainErrorCode } from './errors';

/**
 * Properties that are probed on any object without being a use of it
 * (promises look for `then`; Jest for matchers and printing; Nest for
 * lifecycle hooks): these read as undefined instead of throwing.
 */
const PROBED = new Set<PropertyKey>([
  'then',
  'asymmetricMatch',
  'toJSON',
  'nodeType',
  '$$typeof',
  'constructor',
  'onModuleInit',
  'onApplicationBootstrap',
  'onModuleDestroy',
  'beforeApplicationShutdown',
  'onApplicationShutdown',
]);

/**
 * A typed strict fake of a repository (or any port) for the core's unit
 * tests: the members given are the whole fake, and using any other member
 * throws, so a test cannot pass on a call it did not expect.
 *
 *   const devices = strictFake<DeviceRepository>({ get: async () => undefined }, 'devices');
 */
export function strictFake<T extends object>(members: Partial<T>, name = 'fake'): T {
  return new Proxy(members as T, {
    get(target, property, receiver) {
      if (property in target) return Reflect.get(target, property, receiver);
      if (typeof property === 'symbol' || PROBED.has(property)) return undefined;
      throw new Error(`${name}.${property}: unexpected call`);
    },
  });
}

/**
 * The code of the DomainError that `run` throws or rejects with, for the
 * core's unit tests; anything else (another error, or none) throws, which
 * fails the test.
 */
export async function refusalOf(run: () => Promise<unknown>): Promise<DomainErrorCode> {
  let error: unknown;
  try {
    await run();
  } catch (caught) {
    error = caught;
  }
  if (error instanceof DomainError) return error.code;
  throw new Error(`expected a DomainError, got ${error === undefined ? 'none' : String(error)}`);
}
