import type { BulkCommandView } from '@iot/protocol';
import type { BulkState, BulkTarget } from '../../../core/commands/bulk-commands.service';

/** A bulk as the HTTP API shows it: each device's outcome with its status, and the counts. */
export function bulkView({ bulk, statuses }: BulkState): BulkCommandView {
  const counts: Record<string, number> = {};
  const items = bulk.items.map((item) => {
    const status =
      bulk.kind === 'desired'
        ? item.error === null
          ? 'succeeded'
          : null
        : item.commandId === null
          ? null
          : (statuses.get(item.commandId) ?? null);
    const key = status ?? 'refused';
    counts[key] = (counts[key] ?? 0) + 1;
    return { deviceId: item.deviceId, commandId: item.commandId, status, version: item.version ?? null, error: item.error };
  });
  return {
    bulkId: bulk.id,
    kind: bulk.kind,
    name: bulk.name,
    createdBy: bulk.createdBy,
    createdAt: bulk.createdAt,
    target: bulk.target,
    items,
    counts,
  };
}

/** The target of a bulk body: its device ids, or its label selector with the selector's text for the record. */
export function bulkTarget(devices: string[] | undefined, labels: Map<string, string> | undefined): BulkTarget {
  if (devices !== undefined) return { devices };
  const selector = labels ?? new Map<string, string>();
  return { labels: selector, selector: [...selector].map(([key, value]) => `${key}=${value}`).join(',') };
}

/** A bulk id is a UUID; anything else is no bulk (and never reaches storage). */
export const BULK_ID_PATTERN = /^[0-9a-f-]{36}$/;
