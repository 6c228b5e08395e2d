/**
 * Properties that frameworks probe on any object (Angular's injector looks for
 * ngOnDestroy and, on every injected value, `name`; promises look for `then`;
 * Jest for matchers and printing).
 * A probe is not a use, so these read as undefined instead of throwing.
 */
const PROBED = new Set<PropertyKey>(['name', 'then', 'ngOnDestroy', 'asymmetricMatch', 'toJSON', 'nodeType', '$$typeof', 'constructor']);

/**
 * A typed strict mock: the members given are the whole fake, and using any
 * other member throws, so a spec cannot pass by accident on a missing stub.
 */
export function strictMock<T extends object>(members: Partial<T>, name = 'mock'): T {
  return new Proxy(members as T, {
    get(target, property, receiver) {
      if (property in target) return Reflect.get(target, property, receiver);
      if (typeof property === 'symbol' || PROBED.has(property)) return undefined;
      throw new Error(`${name}.${property} is not stubbed`);
    },
  });
}
