/** How a recorded action ended: done, refused (a 4xx: bad input, a conflict, a wrong password), or failed (5xx). */
export type AuditOutcome = 'ok' | 'refused' | 'failed';

/** One thing somebody did (or tried), as the audit log keeps it. Never a secret. */
export interface AuditEntry {
  ts: number;
  /** The username, or the one a failed login claimed; null when nobody is known. */
  actor: string | null;
  /** Such as `device.create`, `command.send`, `auth.login`. */
  action: string;
  /** What it was done to: a device id, a username, a command id; null when nothing in particular. */
  target: string | null;
  outcome: AuditOutcome;
  /** The client's address, as the api saw it. */
  address: string | null;
  /** A short note (a command name, the fields changed), at most AUDIT_DETAIL_MAX characters. */
  detail: string | null;
}

export interface AuditRecord extends AuditEntry {
  /** Rises with every entry: the newest has the highest. */
  id: number;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
  from?: number;
  to?: number;
  /** Entries older than this id (paging, newest first). */
  beforeId?: number;
  limit: number;
}

/** The longest detail kept, in characters. */
export const AUDIT_DETAIL_MAX = 512;

/** The audit log: appended to, read newest first, pruned by age. */
export abstract class AuditRepository {
  abstract append(entries: AuditEntry[]): Promise<void>;
  /** Newest first. */
  abstract list(filter: AuditFilter): Promise<AuditRecord[]>;
  /** Deletes the entries older than `before` (epoch ms); how many went. */
  abstract prune(before: number): Promise<number>;
}
