import type { Role, UserView } from '@iot/protocol';

/** A user as stored: the API's view, the password's hash and when the user was made. */
export interface UserRecord extends UserView {
  passwordHash: string;
  createdAt: number;
}

/** What may change of a user; `scope: null` lifts the limit. */
export interface UserPatch {
  passwordHash?: string;
  role?: Role;
  scope?: string | null;
}

/** The console's users. */
export abstract class UserRepository {
  abstract count(): Promise<number>;
  abstract find(username: string): Promise<UserRecord | undefined>;
  /** Every user, by username. */
  abstract list(): Promise<UserRecord[]>;
  /** Returns false when the username is taken. */
  abstract create(user: UserRecord): Promise<boolean>;
  /** Returns false when there is no such user. */
  abstract update(username: string, patch: UserPatch): Promise<boolean>;
  /** Returns false when there was no such user. */
  abstract delete(username: string): Promise<boolean>;
}
