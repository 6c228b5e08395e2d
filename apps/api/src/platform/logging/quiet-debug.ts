import { createRequire } from 'node:module';

/** The part of the `debug` package's API its users call. */
interface DebugFactory {
  (namespace: string): DebugLogger;
  [key: string]: unknown;
}

interface DebugLogger {
  (...args: unknown[]): void;
  enabled: boolean;
  namespace: string;
  extend(namespace: string, delimiter?: string): DebugLogger;
  destroy(): boolean;
  log?: unknown;
}

/**
 * The `debug` package with loggers that do nothing: the same functions and
 * settings on the factory, but each logger is an empty function, disabled.
 */
export function quietDebug(real: DebugFactory): DebugFactory {
  const logger = (namespace: string): DebugLogger =>
    Object.assign(() => undefined, {
      enabled: false,
      namespace,
      extend: (sub: string, delimiter = ':') => logger(namespace + delimiter + sub),
      destroy: () => false,
    });
  return Object.assign((namespace: string) => logger(namespace), real);
}

/**
 * mqtt-packet's parser calls `debug` a dozen times a packet. With `DEBUG`
 * unset those loggers print nothing, yet each call still gathers its
 * arguments and reads a getter: 7% of the event loop's time at 100,000
 * messages a second, and about 8% of the throughput (docs/performance.md).
 * So, unless `DEBUG` is set when the api starts, the `debug` that
 * mqtt-packet loads is replaced by `quietDebug`, before anything loads
 * mqtt-packet (app/main.ts imports silence-debug.ts first).
 *
 * Returns an undo, or undefined when nothing was replaced.
 */
export function silenceDebugUnlessAsked(
  env: NodeJS.ProcessEnv = process.env,
  from: string = __filename,
): (() => void) | undefined {
  if (env['DEBUG']) return undefined;
  try {
    // The copy of `debug` mqtt-packet resolves, as aedes resolves mqtt-packet.
    const fromAedes = createRequire(createRequire(from).resolve('aedes'));
    const fromPacket = createRequire(fromAedes.resolve('mqtt-packet'));
    const path = fromPacket.resolve('debug');
    const real = fromPacket('debug') as DebugFactory;
    const cached = fromPacket.cache[path];
    if (!cached) return undefined;
    cached.exports = quietDebug(real);
    return () => (cached.exports = real);
  } catch {
    return undefined; // laid out otherwise: mqtt-packet keeps its own, which only costs time
  }
}
