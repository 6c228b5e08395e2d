import { DatabaseUnreachableError } from '../domain/database';
import { ConfigError } from '../platform/config/config';

/** sysexits.h: a configuration error (bad variable, unusable DATA_DIR). */
export const EX_CONFIG = 78;
/**
 * sysexits.h: a service the api needs is unavailable (its port is taken, its broker refuses it, its database
 * cannot be reached).
 */
export const EX_UNAVAILABLE = 69;

/** What a failed start tells the operator: one line (or a list for configuration) and the exit code. */
export interface StartFailure {
  exitCode: number;
  message: string;
}

/** Where the api listens, to say which variable names an address that cannot be bound. */
export interface Listening {
  host: string;
  port: number;
  /** The embedded broker's port; undefined with an external broker. */
  mqttPort: number | undefined;
}

/**
 * Turns whatever ended the start into a message without a stack trace:
 * configuration problems exit 78 with their list, a port in use, an address
 * that cannot be bound or a database that cannot be reached 69, anything else 1.
 */
export function describeStartFailure(error: unknown, listening?: Listening): StartFailure {
  if (error instanceof ConfigError) return { exitCode: EX_CONFIG, message: error.message };
  if (error instanceof DatabaseUnreachableError) {
    return { exitCode: EX_UNAVAILABLE, message: `cannot start: ${error.message}` };
  }
  const e = error as Partial<NodeJS.ErrnoException> & { address?: string; port?: number; hostname?: string };
  const text = error instanceof Error ? error.message : String(error);
  const what =
    e.port !== undefined && e.port === listening?.mqttPort
      ? `the MQTT port ${e.port} (MQTT_PORT)`
      : e.port !== undefined && e.port === listening?.port
        ? `the HTTP port ${e.port} (PORT)`
        : `port ${e.port ?? '?'}`;
  switch (e.code) {
    case 'EADDRINUSE':
      return { exitCode: EX_UNAVAILABLE, message: `cannot start: ${what} is in use on ${e.address ?? 'this host'}` };
    case 'EACCES':
      if (e.syscall === 'listen' || e.syscall === 'bind') {
        return { exitCode: EX_UNAVAILABLE, message: `cannot start: not allowed to listen on ${what} (${text})` };
      }
      break;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      // Only for HOST: an external broker's name that does not resolve is the broker's outage, not ours.
      if (listening !== undefined && (e.address ?? e.hostname) === listening.host) {
        return {
          exitCode: EX_CONFIG,
          message: `invalid configuration:\n  - HOST ${listening.host} is not an address of this machine (${e.code})`,
        };
      }
      break;
    case undefined:
      break;
  }
  return { exitCode: 1, message: `cannot start: ${text}` };
}
