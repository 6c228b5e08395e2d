import type { StoredEvent } from './events';

/**
 * What one api replica tells the others beyond the event log: changes to
 * what every replica keeps in memory (sessions, users, the device directory,
 * verified device secrets, alarm rules). Events in the log need no notice: every replica
 * reads the log itself.
 */
export type ClusterNotice =
  | { kind: 'sessions.ended'; sessionIds: string[] }
  | { kind: 'user.changed'; username: string }
  | { kind: 'device.added'; deviceId: string }
  | { kind: 'device.removed'; deviceId: string }
  | { kind: 'device.rotated'; deviceId: string }
  | { kind: 'device.model'; deviceId: string }
  /** A device's name, type or labels changed. */
  | { kind: 'device.changed'; deviceId: string }
  /** An alarm rule was created, changed or deleted: every replica reads the rules again. */
  | { kind: 'alarm.rules' };

/** Session ids per notice at most, so a notice stays far below PostgreSQL's 8,000-byte NOTIFY payload. */
export const MAX_SESSION_IDS_PER_NOTICE = 100;

/** A batch appended to the log, as announced at its commit: its events follow seq `after`, one seq each. */
export interface AppendedBatch {
  after: number;
  events: StoredEvent[];
}

export interface ClusterListener {
  /** A notice from another replica. */
  notice(notice: ClusterNotice): void;
  /**
   * A batch was appended to the log, by this replica or another: given
   * whole when the announcement could carry it, else the log has to be read.
   */
  appended(batch?: AppendedBatch): void;
  /** The channel was lost and is back: notices may have been missed, so reload what they would have changed. */
  resync(): void;
}

/**
 * The channel between the api replicas that share one database. On SQLite
 * there is one api process, so nothing is shared and nothing is sent; on
 * PostgreSQL every replica listens (LISTEN/NOTIFY). A shared store
 * announces each append itself, at its commit: nobody else sends those.
 */
export abstract class ClusterChannel {
  /** Whether other api processes may share this database. */
  abstract readonly shared: boolean;
  /** Starts listening; the listener hears from the channel until `close`. */
  abstract listen(listener: ClusterListener): Promise<void>;
  /** Tells the other replicas; resolves once sent. */
  abstract announce(notice: ClusterNotice): Promise<void>;
  abstract close(): Promise<void>;
}

/** Parses a notice from another process: undefined for anything not in the shape of one. */
export function parseClusterNotice(text: string): ClusterNotice | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const notice = value as Record<string, unknown>;
  switch (notice.kind) {
    case 'sessions.ended':
      return Array.isArray(notice.sessionIds) && notice.sessionIds.every((id) => typeof id === 'string')
        ? { kind: notice.kind, sessionIds: notice.sessionIds as string[] }
        : undefined;
    case 'user.changed':
      return typeof notice.username === 'string' ? { kind: notice.kind, username: notice.username } : undefined;
    case 'device.added':
    case 'device.removed':
    case 'device.rotated':
    case 'device.model':
    case 'device.changed':
      return typeof notice.deviceId === 'string' ? { kind: notice.kind, deviceId: notice.deviceId } : undefined;
    case 'alarm.rules':
      return { kind: notice.kind };
    default:
      return undefined;
  }
}
