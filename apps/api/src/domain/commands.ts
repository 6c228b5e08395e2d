import type { CommandStatus, CommandTransition, CommandView } from '@iot/protocol';

/** A command as stored: the API's view of it, keyed by `id` (the view's `commandId`). */
export interface CommandRecord extends Omit<CommandView, 'commandId'> {
  id: string;
}

export interface CommandWithHistory extends CommandRecord {
  transitions: CommandTransition[];
}

/** What a transition changes on a command: its status, and its result, error, sent time, progress or timeout. */
export type CommandPatch = Pick<CommandRecord, 'status'> &
  Partial<Pick<CommandRecord, 'result' | 'error' | 'sentAt' | 'progress' | 'timeoutMs'>>;

/** Commands to devices, each with the transitions of its life. */
export abstract class CommandRepository {
  abstract insert(command: CommandRecord, transition: CommandTransition): Promise<void>;
  /**
   * Records a transition and the command's new status (and result, error,
   * sent time, progress, timeout), only if its status is still `from`: false
   * when it is not (another replica moved it first), and then nothing is
   * written. Without a transition (progress within a status) no transition row is added.
   */
  abstract update(
    id: string,
    from: CommandStatus,
    patch: CommandPatch,
    transition: CommandTransition | undefined,
    ts: number,
  ): Promise<boolean>;
  abstract get(id: string): Promise<CommandWithHistory | undefined>;
  /** The status of each of these commands that exists. */
  abstract statuses(ids: readonly string[]): Promise<Map<string, CommandStatus>>;
  /** A device's commands, newest first, with ids before `beforeId`. */
  abstract list(deviceId: string, beforeId: string | undefined, limit: number): Promise<CommandWithHistory[]>;
  /** Commands not yet terminal, oldest first (timers are rebuilt from them at boot). */
  abstract open(): Promise<CommandRecord[]>;
  /** A device's commands still held for it (`pending`), oldest first. */
  abstract pending(deviceId: string): Promise<CommandRecord[]>;
  /**
   * Open commands whose deadline is at or before `now`, at most `limit`: a
   * pending one's `expiresAt`, a sent one's `sentAt + timeoutMs`.
   */
  abstract overdue(now: number, limit: number): Promise<CommandRecord[]>;
}
