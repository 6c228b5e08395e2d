import {
  COMMAND_STATUS_RANK,
  type CommandEvent,
  type CommandStatus,
  type CommandTransition,
  type CommandWithHistoryView,
  TERMINAL_COMMAND_STATUSES,
} from '@iot/protocol';

/** A command as the history shows it: from REST, or built from live events (which lack the timing fields). */
export interface CommandEntry
  extends Pick<
    CommandWithHistoryView,
    'commandId' | 'deviceId' | 'name' | 'status' | 'result' | 'error' | 'issuedAt' | 'transitions'
  > {
  params?: CommandWithHistoryView['params'];
  /** With `in-progress`: percent done, as the device last said. */
  progress?: number;
  /** Unknown (null) for a command first seen on the stream, until the history is reloaded. */
  createdBy: string | null;
}

export function isTerminal(status: CommandStatus): boolean {
  return TERMINAL_COMMAND_STATUSES.has(status);
}

function sameTransition(a: CommandTransition, b: CommandTransition): boolean {
  return a.status === b.status && a.ts === b.ts;
}

function byTime(a: CommandTransition, b: CommandTransition): number {
  return a.ts - b.ts || COMMAND_STATUS_RANK[a.status] - COMMAND_STATUS_RANK[b.status];
}

/** The union of two transition lists, without repeats, oldest first. */
function mergeTransitions(a: readonly CommandTransition[], b: readonly CommandTransition[]): CommandTransition[] {
  const merged = [...a];
  for (const transition of b) {
    const index = merged.findIndex((t) => sameTransition(t, transition));
    if (index === -1) merged.push(transition);
    else if (transition.by && !merged[index].by) merged[index] = transition;
  }
  return merged.sort(byTime);
}

/** The current status: a terminal one is final; otherwise the latest. */
function currentStatus(transitions: readonly CommandTransition[], fallback: CommandStatus): CommandStatus {
  const terminal = transitions.find((t) => isTerminal(t.status));
  if (terminal) return terminal.status;
  return transitions.length > 0 ? transitions[transitions.length - 1].status : fallback;
}

/**
 * A command after one live event (a socket `command.status` or an SSE
 * `command`). The same transition arriving twice (socket and stream) changes
 * nothing, and the same object is returned, so callers can skip a render.
 */
export function applyCommandEvent(
  entry: CommandEntry | undefined,
  event: CommandEvent,
  createdBy: string | null = null,
): CommandEntry {
  const transition: CommandTransition = { status: event.status, ts: event.ts };
  if (!entry) {
    return {
      commandId: event.commandId,
      deviceId: event.deviceId,
      name: event.name,
      status: event.status,
      ...(event.result !== undefined ? { result: event.result } : {}),
      ...(event.error !== undefined ? { error: event.error } : {}),
      ...(event.progress !== undefined ? { progress: event.progress } : {}),
      issuedAt: event.ts,
      createdBy,
      transitions: [transition],
    };
  }
  const known = entry.transitions.some((t) => sameTransition(t, transition));
  const learnsSender = createdBy !== null && entry.createdBy === null;
  if (
    known &&
    !learnsSender &&
    (event.result === undefined || entry.result !== undefined) &&
    (event.error === undefined || entry.error !== undefined) &&
    (event.progress === undefined || entry.progress === event.progress)
  ) {
    return entry;
  }
  const transitions = known ? entry.transitions : mergeTransitions(entry.transitions, [transition]);
  return {
    ...entry,
    status: currentStatus(transitions, entry.status),
    ...(event.result !== undefined ? { result: event.result } : {}),
    ...(event.error !== undefined ? { error: event.error } : {}),
    // An event older than what is held does not take the progress back.
    ...(event.progress !== undefined && event.ts >= (entry.transitions[entry.transitions.length - 1]?.ts ?? 0)
      ? { progress: event.progress }
      : {}),
    issuedAt: Math.min(entry.issuedAt, event.ts),
    createdBy: entry.createdBy ?? createdBy,
    transitions,
  };
}

/** A command from a REST page merged with what live events already told. */
export function mergeCommandView(entry: CommandEntry | undefined, command: CommandWithHistoryView): CommandEntry {
  if (!entry) return { ...command, transitions: [...command.transitions].sort(byTime) };
  const transitions = mergeTransitions(command.transitions, entry.transitions);
  return {
    ...entry,
    ...command,
    result: command.result ?? entry.result,
    error: command.error ?? entry.error,
    status: currentStatus(transitions, command.status),
    transitions,
  };
}
