import type { Role } from '@iot/protocol';

/** Who a request or socket was authenticated as. */
export interface AuthUser {
  username: string;
  role: Role;
  /** The login this request came with: ended by logout, a new password or role, or deletion. */
  sessionId: string;
  /**
   * The labels every device this user sees must have (`site=a`), or null
   * for every device: admins and users without a scope. A change ends the session.
   */
  scope: ReadonlyMap<string, string> | null;
}
