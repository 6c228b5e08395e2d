/** One device of a bulk: its command or the desired version its patch made, or why it got none. */
export interface BulkItem {
  deviceId: string;
  commandId: string | null;
  /** A desired-state bulk: the device's desired version after the patch. */
  version?: number | null;
  error: string | null;
}

/** What a bulk sends each device: a command, or a merge patch of the desired state. */
export type BulkKind = 'command' | 'desired';

/** One action on many devices at once: one command (or patch) each, each with its own lifecycle. */
export interface BulkRecord {
  id: string;
  kind: BulkKind;
  /** The command's name; for a desired-state patch, its top-level properties. */
  name: string;
  createdBy: string;
  createdAt: number;
  /** What it was sent to: `devices`, or the label selector as given. */
  target: string;
  items: BulkItem[];
}

/** Bulk commands and patches, as sent. */
export abstract class BulkRepository {
  abstract insert(bulk: BulkRecord): Promise<void>;
  abstract get(id: string): Promise<BulkRecord | undefined>;
}
