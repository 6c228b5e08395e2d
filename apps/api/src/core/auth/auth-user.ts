import type { Role } from '@iot/protocol';

/** Who a request or socket was authenticated as. */
export interface AuthUser {
  username: string;
  role: Role;
  /** The login this request came with: ended by logout, a new password or role, or deletion. */
  sessionId: string;
}
