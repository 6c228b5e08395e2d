import { type BulkCommandView, labelSelectorText } from '@iot/protocol';
import type { AuthUser } from '../../../core/auth/auth-user';
import type { DeviceAccess } from '../../../core/auth/device-access';
import type { BulkState, BulkTarget } from '../../../core/commands/bulk-commands.service';
import { DomainError } from '../../../domain/errors';

/** A bulk as the HTTP API shows it: each device's outcome with its status, and the counts. */
export function bulkView({ bulk, statuses }: BulkState, access: DeviceAccess, user: AuthUser): BulkCommandView {
  const counts: Record<string, number> = {};
  // A scoped user sees only the items of devices in the scope, and those refused as unknown (which tell nothing);
  // a bulk with none of them is no bulk to them.
  const visible = bulk.items.filter(
    (item) => access.sees(user, item.deviceId) || item.error === `no device ${item.deviceId}`,
  );
  if (visible.length === 0 && bulk.items.length > 0) throw new DomainError('not_found', `no bulk ${bulk.id}`);
  const items = visible.map((item) => {
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

/**
 * The target of a bulk body: its device ids, or its label selector with the
 * selector's text for the record. A scoped user's selector is ANDed with the
 * scope, and ids outside the scope are refused as unknown.
 */
export function bulkTarget(
  devices: string[] | undefined,
  labels: Map<string, string> | undefined,
  access: DeviceAccess,
  user: AuthUser,
): BulkTarget {
  if (devices !== undefined) {
    return access.limited(user) ? { devices, sees: (id) => access.sees(user, id) } : { devices };
  }
  const selector = access.narrow(user, labels ?? new Map<string, string>());
  if (selector === 'none' || selector === undefined) {
    throw new DomainError('bad_request', 'labels: no device matches the selector');
  }
  return { labels: selector, selector: labelSelectorText(selector) };
}

/** A bulk id is a UUID; anything else is no bulk (and never reaches storage). */
export const BULK_ID_PATTERN = /^[0-9a-f-]{36}$/;
