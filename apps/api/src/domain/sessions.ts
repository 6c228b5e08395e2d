/** One login: the token names it (`sid`), and it ends before `expiresAt` only when deleted. */
export interface SessionRecord {
  id: string;
  username: string;
  createdAt: number;
  expiresAt: number;
}

/** The users' logins. */
export abstract class SessionRepository {
  /** Sessions that have not expired at `now`, oldest first; expired ones are deleted first. */
  abstract live(now: number): Promise<SessionRecord[]>;
  /** A session by id, expired or not; undefined when it was deleted (ended). */
  abstract find(id: string): Promise<SessionRecord | undefined>;
  abstract insert(session: SessionRecord): Promise<void>;
  abstract delete(ids: readonly string[]): Promise<void>;
  /** Ends every session of a user; returns their ids. */
  abstract deleteAllOf(username: string): Promise<string[]>;
  /** Deletes sessions expired at `now`; returns how many. */
  abstract prune(now: number): Promise<number>;
}
