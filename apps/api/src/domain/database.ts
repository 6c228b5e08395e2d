/** The database as a whole, for readiness: whatever holds the repositories answers `ping` once it is reachable. */
export abstract class DatabaseHealth {
  abstract ping(): Promise<void>;
}

/** The database could not be reached within the time a start may wait for it. */
export class DatabaseUnreachableError extends Error {}
