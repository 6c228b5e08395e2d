/** One device of a bulk command: its command, or why it got none. */
export interface BulkItem {
  deviceId: string;
  commandId: string | null;
  error: string | null;
}

/** A command sent to many devices at once: one command each, each with its own lifecycle. */
export interface BulkRecord {
  id: string;
  name: string;
  createdBy: string;
  createdAt: number;
  /** What it was sent to: `devices`, or the label selector as given. */
  target: string;
  items: BulkItem[];
}

/** Bulk commands, as sent. */
export abstract class BulkRepository {
  abstract insert(bulk: BulkRecord): Promise<void>;
  abstract get(id: string): Promise<BulkRecord | undefined>;
}
