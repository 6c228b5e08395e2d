import type { TelemetryValue } from '@iot/protocol';
import type { Generated } from 'kysely';

/** Table types for kysely; the same schema on SQLite and PostgreSQL. */
export interface Database {
  meta: { key: string; value: string };
  users: {
    username: string;
    password_hash: string;
    role: string;
    created_at: number;
    /** A label selector (`site=a`), or null for every device. */
    scope: string | null;
  };
  sessions: {
    id: string;
    username: string;
    created_at: number;
    expires_at: number;
  };
  bulk_commands: {
    id: string;
    kind: string;
    name: string;
    created_by: string;
    created_at: number;
    target: string;
    items: string;
  };
  webhooks: {
    id: string;
    name: string;
    url: string;
    secret: string;
    min_severity: string | null;
    rule_ids: string | null;
    enabled: number;
    created_by: string;
    created_at: number;
    updated_at: number;
  };
  webhook_deliveries: {
    id: string;
    webhook_id: string;
    seq: number;
    event: string;
    alarm_id: string | null;
    data: string;
    status: string;
    attempts: number;
    last_status_code: number | null;
    last_error: string | null;
    next_attempt_at: number | null;
    lease_until: number;
    created_at: number;
    delivered_at: number | null;
  };
  audit_log: {
    id: Generated<number>;
    ts: number;
    actor: string | null;
    action: string;
    target: string | null;
    outcome: string;
    address: string | null;
    detail: string | null;
  };
  /** The model catalogue (`document` is the model as JSON). */
  models: { id: string; version: number; document: string; title: string | null; created_at: number };
  device_models: { device_id: string; model_id: string; model_version: number; assigned_at: number };
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
  /** Raw history: one row per telemetry message; `data` is its values as a JSON object, `seq` its event. */
  telemetry_messages: {
    device_id: string;
    ts: number;
    seq: number;
    data: string;
  };
  /** A view of `telemetry_messages` with one row per value (read only). */
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
  commands: {
    id: string;
    device_id: string;
    name: string;
    params: string;
    status: string;
    result: string | null;
    error: string | null;
    timeout_ms: number;
    issued_at: number;
    expires_at: number;
    sent_at: number | null;
    updated_at: number;
    created_by: string;
    progress: number | null;
  };
  /** Every transition of every command: the audit trail. */
  command_transitions: {
    command_id: string;
    ts: number;
    status: string;
    by: string | null;
  };
  device_state: {
    device_id: string;
    reported: string;
    desired: string;
    version: number;
    reported_at: number | null;
    desired_at: number | null;
    /** Bumped by every save; a save names the revision it read (optimistic concurrency). */
    revision: number;
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

/** A stored value read back: the column its kind names. */
export function toValue(kind: number, num: number | null, str: string | null): TelemetryValue {
  switch (kind) {
    case ValueKind.Boolean:
      return num === 1;
    case ValueKind.String:
      return str ?? '';
    default:
      return num ?? 0;
  }
}
