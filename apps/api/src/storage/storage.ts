import type {
  CommandStatus,
  DeviceEventName,
  JsonObject,
  LatestValues,
  Role,
  TelemetryAggregation,
  TelemetryValue,
  TelemetryValues,
} from '@iot/protocol';
import type { TelemetryKeys } from './telemetry-keys';

export interface UserRecord {
  username: string;
  passwordHash: string;
  role: Role;
  createdAt: number;
}

/** One login: the token names it (`sid`), and it ends before `expiresAt` only when deleted. */
export interface SessionRecord {
  id: string;
  username: string;
  createdAt: number;
  expiresAt: number;
}

export interface DeviceRecord {
  id: string;
  name: string;
  type: string | null;
  labels: Record<string, string>;
  online: boolean;
  lastSeen: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface DeviceListFilter {
  q?: string;
  type?: string;
  online?: boolean;
  /** Return devices with ids after this one (keyset paging by id). */
  afterId?: string;
  limit: number;
}

const VALUES_KEY = '"values":';

/**
 * The event a telemetry entry becomes, the contract's `{deviceId, ts, values}`,
 * serialised once: the history row stores the values' JSON, a slice of it
 * (`valuesJsonOf`), so the event needs nothing else to be stored. `valuesJson`,
 * the values as the device sent them (TelemetryEntry), is used as it is.
 */
export function telemetryEvent(deviceId: string, ts: number, values: TelemetryValues, valuesJson?: string): NewEvent {
  const data =
    valuesJson === undefined
      ? JSON.stringify({ deviceId, ts, values })
      : `{"deviceId":${JSON.stringify(deviceId)},"ts":${ts},"values":${valuesJson}}`;
  return { type: 'telemetry', deviceId, ts, data };
}

/**
 * The values' JSON in the data of an event made by `telemetryEvent`: after the
 * first `"values":` (the device id before it holds no quote) to the last
 * brace. Undefined for data of another shape, which then has no history row.
 */
export function valuesJsonOf(data: string): string | undefined {
  const at = data.indexOf(VALUES_KEY);
  return at === -1 || !data.endsWith('}') ? undefined : data.slice(at + VALUES_KEY.length, -1);
}

/** An event on its way into the log; `data` is its JSON, serialised once. */
export interface NewEvent {
  type: DeviceEventName;
  deviceId: string;
  ts: number;
  data: string;
  /** Set on status events: the presence to record on the device. */
  online?: boolean;
}

/** An event as stored: its place in the log is `seq`. */
export interface StoredEvent {
  seq: number;
  type: DeviceEventName;
  deviceId: string;
  data: string;
}

export interface EventFilter {
  deviceIds?: ReadonlySet<string>;
  types?: ReadonlySet<DeviceEventName>;
}

export interface HistoryQuery {
  deviceId: string;
  keys?: string[];
  from?: number;
  to?: number;
  limit: number;
  order: 'asc' | 'desc';
  /**
   * Stop reading once the answer holds this many points over all keys, at the
   * end of the message that reaches it: every series then ends at the same time.
   */
  maxPoints?: number;
}

export type Series = Record<string, Array<[number, TelemetryValue]>>;

/** One aggregated history query: the bucket and range are already checked and resolved. */
export interface AggregateQuery {
  deviceId: string;
  keys?: string[];
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  /** Bucket width in ms; buckets are aligned to the epoch. */
  bucketMs: number;
  agg: TelemetryAggregation;
}

/** Where telemetry history lives: raw rows, and the per-minute and per-hour rollups made from them. */
export type TelemetryTier = 'raw' | 'minute' | 'hour';

/** Where a prune goes on from: the device it stopped at. */
export interface PruneCursor {
  deviceId: string;
}

/** What one prune call did: `more` is false once nothing older is left; pass `next` to the next call. */
export interface PruneResult {
  removed: number;
  more: boolean;
  next?: PruneCursor;
}

export interface CommandTransition {
  status: CommandStatus;
  ts: number;
  /** Who caused it: a username, or absent for the device and the platform's timers. */
  by?: string;
}

export interface CommandRecord {
  id: string;
  deviceId: string;
  name: string;
  params: JsonObject;
  status: CommandStatus;
  result?: unknown;
  error?: string;
  timeoutMs: number;
  issuedAt: number;
  expiresAt: number;
  sentAt: number | null;
  updatedAt: number;
  createdBy: string;
}

export interface CommandWithHistory extends CommandRecord {
  transitions: CommandTransition[];
}

export interface DeviceStateRecord {
  reported: JsonObject;
  desired: JsonObject;
  version: number;
  reportedAt: number | null;
  desiredAt: number | null;
}

/**
 * Everything the api keeps. SQLite implements it now; PostgreSQL will
 * implement the same interface. Methods are async so either fits.
 */
export abstract class Storage {
  /** A random id made when the database was created: part of every event id. */
  abstract readonly epoch: string;

  abstract close(): Promise<void>;
  abstract ping(): Promise<void>;

  // users
  abstract countUsers(): Promise<number>;
  abstract findUser(username: string): Promise<UserRecord | undefined>;
  abstract listUsers(): Promise<UserRecord[]>;
  /** Returns false when the username is taken. */
  abstract createUser(user: UserRecord): Promise<boolean>;
  abstract updateUser(username: string, patch: { passwordHash?: string; role?: Role }): Promise<boolean>;
  abstract deleteUser(username: string): Promise<boolean>;

  // sessions
  /** Sessions that have not expired at `now`; expired ones are deleted first. */
  abstract liveSessions(now: number): Promise<SessionRecord[]>;
  abstract insertSession(session: SessionRecord): Promise<void>;
  abstract deleteSessions(ids: readonly string[]): Promise<void>;
  /** Ends every session of a user; returns their ids. */
  abstract deleteSessionsOf(username: string): Promise<string[]>;
  /** Deletes sessions expired at `now`; returns how many. */
  abstract pruneSessions(now: number): Promise<number>;

  // devices
  /** Returns false when the id is taken. */
  abstract createDevice(device: DeviceRecord, secretHash: string): Promise<boolean>;
  abstract getDevice(id: string): Promise<DeviceRecord | undefined>;
  abstract listDevices(filter: DeviceListFilter): Promise<DeviceRecord[]>;
  abstract updateDevice(
    id: string,
    patch: { name?: string; type?: string | null; labels?: Record<string, string> },
    now: number,
  ): Promise<DeviceRecord | undefined>;
  /** Deletes the device with its history; false when there was none. */
  abstract deleteDevice(id: string): Promise<boolean>;
  abstract getSecretHash(id: string): Promise<string | undefined>;
  abstract setSecretHash(id: string, secretHash: string, now: number): Promise<boolean>;
  /** Ids of every device, for the in-memory directory. */
  abstract allDeviceIds(): Promise<string[]>;
  /** Marks every device offline (at boot, before the broker accepts anyone). */
  abstract markAllOffline(): Promise<void>;

  // telemetry
  /** Each device's distinct telemetry keys, in memory: ingest bounds them (TELEMETRY_MAX_KEYS_PER_DEVICE). */
  abstract readonly telemetryKeys: TelemetryKeys;
  abstract latest(deviceIds: string[]): Promise<Map<string, LatestValues>>;
  abstract history(query: HistoryQuery): Promise<Series>;
  /**
   * One point per non-empty bucket per key, labelled by the bucket's start,
   * computed in the database from the finest tier that serves the bucket.
   */
  abstract aggregate(query: AggregateQuery): Promise<Series>;
  /**
   * Deletes rows of `tier` older than `before` (epoch ms) in one short
   * transaction of about `budget` rows at most, going on from `start` (the
   * previous call's `next`).
   */
  abstract pruneTelemetry(
    tier: TelemetryTier,
    before: number,
    budget: number,
    start?: PruneCursor,
  ): Promise<PruneResult>;

  // commands
  abstract insertCommand(command: CommandRecord, transition: CommandTransition): Promise<void>;
  /** Records a transition and the command's new status (and result, error, sent time). */
  abstract updateCommand(
    id: string,
    patch: Pick<CommandRecord, 'status'> & Partial<Pick<CommandRecord, 'result' | 'error' | 'sentAt'>>,
    transition: CommandTransition,
  ): Promise<void>;
  abstract getCommand(id: string): Promise<CommandWithHistory | undefined>;
  /** A device's commands, newest first, with ids before `beforeId`. */
  abstract listCommands(deviceId: string, beforeId: string | undefined, limit: number): Promise<CommandWithHistory[]>;
  /** Commands not yet terminal, oldest first (timers are rebuilt from them at boot). */
  abstract openCommands(): Promise<CommandRecord[]>;

  // device state
  abstract getState(deviceId: string): Promise<DeviceStateRecord>;
  abstract saveState(deviceId: string, state: DeviceStateRecord): Promise<void>;
  /** Devices whose desired state was ever set, to republish it retained at boot. */
  abstract desiredStates(): Promise<Array<{ deviceId: string; version: number; desired: JsonObject }>>;

  // the event log
  /**
   * Stores a batch of events in one transaction, with their history rows,
   * latest values and presence, and returns them numbered in log order.
   * A batch may be given before the one before it has settled: batches are
   * stored in the order given, and once one fails, every batch given after
   * it until its rejection is seen fails too, so that none is stored ahead
   * of it when the caller gives them again.
   */
  abstract append(events: NewEvent[]): Promise<StoredEvent[]>;
  /**
   * Events after `seq`, in order, at most `limit`; with `maxBytes`, the page
   * ends after the event whose `data` brings it to that many characters.
   */
  abstract eventsAfter(seq: number, filter: EventFilter, limit: number, maxBytes?: number): Promise<StoredEvent[]>;
  /** The log's bounds: events with seq ≤ `prunedThrough` are gone; `last` is the newest seq. */
  abstract eventBounds(): Promise<{ prunedThrough: number; last: number }>;
  /** Removes events older than `before` (epoch ms), at most `batch` rows; returns how many. */
  abstract pruneEvents(before: number, batch: number): Promise<number>;
}
