/**
 * What the event loop and the SQLite threads say to each other, and the
 * constants both sides use. The threads load this module and not the event
 * loop's side (sqlite-writer-thread.ts): each thread is a V8 isolate of its
 * own, and Nest's modules, which that side uses for logging, cost a thread
 * about 15 MiB more.
 */
import type { DeviceEventName } from '@iot/protocol';
import type { NewEvent } from '../domain/events';
import type { PruneCursor, PruneResult, TelemetryTier } from '../domain/telemetry';

/** How often the checkpointer copies the WAL back into the database. */
export const CHECKPOINT_INTERVAL_MS = 200;
/**
 * A WAL this long (64 MiB of 4 KiB pages) is restarted rather than left to
 * grow. Under steady writes it never starts over by itself (a commit lands
 * during every checkpoint), and a restart holds the write lock for a few
 * milliseconds, so it should be rare: at 2,000 msg/s every few seconds.
 */
export const RESTART_WAL_PAGES = 16_384;

export interface WriterData {
  path: string;
  role: 'writer' | 'checkpointer' | 'reader';
  /** The checkpointer's: a WAL of this many pages is to be restarted (RESTART_WAL_PAGES). */
  restartWalPages: number;
  /** The connection's page cache, KiB (SQLITE_CACHE_KIB). */
  cacheKiB?: number;
}

/** One retention step (SqliteHistory.pruneTelemetry's arguments). */
export interface PruneRequest {
  tier: TelemetryTier;
  before: number;
  budget: number;
  start?: PruneCursor;
}

export type WriterRequest =
  /**
   * Refused unasked when an append of the same generation failed before it,
   * so that no batch commits ahead of one that failed (see `append`).
   */
  | { kind: 'append'; id: number; batch: AppendBatch; generation: number }
  | ({ kind: 'prune'; id: number } & PruneRequest)
  /** Copies what is left of the WAL back and lets the next commit start it over. */
  | { kind: 'restart-wal'; id: number }
  | { kind: 'close' };

export interface WriterReply {
  id: number;
  ready?: true;
  seqs?: Float64Array;
  /** With `seqs`: how long the batch's transaction took in the thread. */
  commitSeconds?: number;
  pruned?: PruneResult;
  /** From the checkpointer: the WAL is long and its checkpoints do not catch up; the writer should restart it. */
  walFull?: true;
  error?: string;
}

/**
 * An ingest batch as it crosses to the writer thread, in columns: two strings
 * an event (its data and device id) and two numbers in arrays that are
 * moved, not copied. A clone of the event objects cost the event loop about
 * twice as much.
 */
export interface AppendBatch {
  data: string[];
  deviceIds: string[];
  /** The message time of telemetry events. */
  ts: Float64Array<ArrayBuffer>;
  /** Per event: its type's code × 3, plus 0 (presence unchanged), 1 (offline) or 2 (online). */
  kinds: Uint8Array<ArrayBuffer>;
}

/** Event types as numbers for AppendBatch (types only from the protocol: this thread loads no more of it). */
const TYPE_CODES = { telemetry: 0, status: 1, state: 2, command: 3, alarm: 4 } as const satisfies Record<
  DeviceEventName,
  number
>;
const TYPES = Object.keys(TYPE_CODES) as DeviceEventName[];

export function encodeBatch(events: NewEvent[]): AppendBatch {
  const n = events.length;
  const batch: AppendBatch = {
    data: new Array(n),
    deviceIds: new Array(n),
    ts: new Float64Array(n),
    kinds: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    const { type, deviceId, ts, data, online } = events[i];
    batch.data[i] = data;
    batch.deviceIds[i] = deviceId;
    batch.ts[i] = ts;
    batch.kinds[i] = TYPE_CODES[type] * 3 + (online === undefined ? 0 : online ? 2 : 1);
  }
  return batch;
}

export function decodeBatch({ data, deviceIds, ts, kinds }: AppendBatch): NewEvent[] {
  const events: NewEvent[] = new Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const type = TYPES[Math.floor(kinds[i] / 3)];
    const event: NewEvent = { type, deviceId: deviceIds[i], ts: ts[i], data: data[i] };
    const presence = kinds[i] % 3;
    if (presence !== 0) event.online = presence === 2;
    events[i] = event;
  }
  return events;
}
