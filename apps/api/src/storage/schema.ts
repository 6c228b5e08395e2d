import type { Generated } from 'kysely';

/** Table types for kysely; the same schema on SQLite and PostgreSQL. */
export interface Database {
  meta: { key: string; value: string };
  users: {
    username: string;
    password_hash: string;
    role: string;
    created_at: number;
  };
  devices: {
    id: string;
    name: string;
    type: string | null;
    labels: string;
    secret_hash: string;
    online: number;
    last_seen: number | null;
    created_at: number;
    updated_at: number;
  };
  /** One row per telemetry value; `seq` is the event that carried it. */
  telemetry: {
    device_id: string;
    key: string;
    ts: number;
    seq: number;
    kind: number;
    num: number | null;
    str: string | null;
  };
  latest: {
    device_id: string;
    key: string;
    ts: number;
    kind: number;
    num: number | null;
    str: string | null;
  };
  /** The event log behind SSE resume: each event's data, serialised once. */
  events: {
    seq: Generated<number>;
    device_id: string;
    type: string;
    data: string;
    ts: number;
  };
}

/** How a telemetry value is stored: `kind` says which column holds it. */
export const enum ValueKind {
  Number = 0,
  Boolean = 1,
  String = 2,
}
