import { DatabaseUnreachableError } from '../../domain/database';

const FIRST_WAIT_MS = 250;
const MAX_WAIT_MS = 2_000;
/** How often a start that keeps waiting says so. */
const REPORT_EVERY_MS = 10_000;

/** A server that is not there (yet), as opposed to one that refuses the api: worth waiting for. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // cannot_connect_now: the server is starting up or shutting down.
  '57P03',
]);

export function isUnreachable(error: unknown): boolean {
  // Node tries each address of a name in turn and reports all failures together.
  if (error instanceof AggregateError) return error.errors.length > 0 && error.errors.every(isUnreachable);
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNREACHABLE.has(code)) return true;
  // pg's words for a connection that timed out, or was cut while the server started.
  return /timeout expired|Connection terminated/i.test(error.message);
}

function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  return error instanceof Error ? error.message : String(error);
}

export interface WaitOptions {
  /** How long to keep trying after the first failure; 0 tries once. */
  timeoutMs: number;
  /** Told of the wait when it starts and every 10 s after. */
  onWait: (message: string) => void;
}

/**
 * Runs `attempt` until it succeeds, retrying with a growing pause (up to 2 s)
 * while the database is unreachable, for up to `timeoutMs`; then rejects with
 * a DatabaseUnreachableError. Any other failure (a refused login, a missing
 * database, a failed migration) rejects at once.
 */
export async function whenReachable<T>(attempt: () => Promise<T>, options: WaitOptions): Promise<T> {
  const started = Date.now();
  const limit = `${Math.round(options.timeoutMs / 1000)} s`;
  let pause = FIRST_WAIT_MS;
  let reported = -Infinity;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!isUnreachable(error)) throw error;
      const elapsed = Date.now() - started;
      if (elapsed + pause > options.timeoutMs) {
        throw new DatabaseUnreachableError(
          `PostgreSQL could not be reached within ${limit} (DATABASE_CONNECT_TIMEOUT_SECONDS): ${reasonOf(error)}`,
        );
      }
      if (elapsed - reported >= REPORT_EVERY_MS) {
        reported = elapsed;
        options.onWait(`PostgreSQL is not reachable (${reasonOf(error)}); retrying for up to ${limit}`);
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, MAX_WAIT_MS);
    }
  }
}
