import { computed, DestroyRef, inject, Injectable, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import type { DeviceListItem } from '@iot/protocol';
import type { Subscription } from 'rxjs';
import { type DeviceFilter, DevicesApi } from '../core/devices/devices-api';
import { DeviceModels } from '../core/models/device-models';
import { describeHttpError } from '../core/http-error';
import { type StreamMessage, StreamService } from '../core/stream/stream.service';
import { applyStatus, type DeviceLiveState, mergeTelemetry } from './device-state';

/** What a device's row shows that does not change between list loads. */
export interface FleetEntry extends Pick<DeviceListItem, 'id' | 'name' | 'type' | 'labels' | 'model'> {
  /** The labels as `key=value`, in the api's order. */
  readonly labelList: readonly string[];
  /** Lower-case id and name, for search. */
  readonly search: string;
}

export interface FleetCounts {
  total: number;
  online: number;
  offline: number;
}

type DeviceMessage = Extract<StreamMessage, { event: 'telemetry' | 'status' }>;

/** Live changes are published at most this often: one render for a burst of events. */
export const FLUSH_MS = 100;
/** Events naming devices not in the list are gathered this long, then the list is fetched once. */
export const UNKNOWN_DEVICE_REFETCH_MS = 2_000;
/** Events kept while the list loads; past this they are dropped and the list is loaded again. */
export const MAX_BUFFERED_EVENTS = 50_000;

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/**
 * The fleet: every device the user may see, loaded over REST, then kept
 * current by the stream's `telemetry` and `status` events.
 *
 * Events that arrive while the list loads are held and applied on top of it
 * (those older than the list are skipped), so nothing between the snapshot
 * and the stream is lost. A `reset` from the stream refetches the list, and
 * so do events for devices the list does not have (gathered, then one fetch).
 *
 * Entries (names, ids) change only when the list loads; live state sits in
 * its own map that is republished at most every {@link FLUSH_MS}, so a
 * thousand events a second cost a few renders, and search does not rerun on
 * every event. Provided by the fleet page: it lives as long as the page.
 */
@Injectable()
export class FleetStore {
  private readonly api = inject(DevicesApi);
  private readonly stream = inject(StreamService);
  private readonly models = inject(DeviceModels);

  private readonly entryList = signal<readonly FleetEntry[]>([]);
  private readonly states = signal<ReadonlyMap<string, DeviceLiveState>>(new Map());
  private readonly loadingState = signal(true);
  private readonly errorState = signal<string | null>(null);
  private readonly selectedIds = signal<ReadonlySet<string>>(new Set());

  /** Changes not yet published to `states`. */
  private draft: Map<string, DeviceLiveState> | null = null;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private load: Subscription | undefined;
  /** Events held while the list loads; null when no load is in flight. */
  private buffered: DeviceMessage[] | null = null;
  private bufferOverflowed = false;
  private unknownIds = new Set<string>();
  private unknownTimer: ReturnType<typeof setTimeout> | undefined;
  /** Ids the last load was made for: still absent afterwards, they are ignored (no refetch loop). */
  private refetchedFor = new Set<string>();
  private ignoredIds = new Set<string>();

  /** The search text, as typed. */
  readonly query = signal('');
  /** What the api filters the list by (labels, type, online); change it with {@link setFilter}. */
  readonly filter = signal<DeviceFilter>({});
  /** Whether the list is being (re)loaded. */
  readonly loading = this.loadingState.asReadonly();
  /** Why the last load failed, or null. */
  readonly error = this.errorState.asReadonly();
  /** Every device, by name. */
  readonly entries = this.entryList.asReadonly();
  /** The devices whose id or name contains the search text (any case), by name. */
  readonly devices = computed(() => {
    const query = this.query().trim().toLowerCase();
    const entries = this.entryList();
    return query ? entries.filter((entry) => entry.search.includes(query)) : entries;
  });
  /** The devices picked for a bulk action (only ones in the list: a load drops the others). */
  readonly selected = this.selectedIds.asReadonly();
  /** The picked devices, in list order. */
  readonly selectedEntries = computed(() => {
    const picked = this.selectedIds();
    return picked.size === 0 ? [] : this.entryList().filter((entry) => picked.has(entry.id));
  });
  /** Whether every device shown (search applied) is picked. */
  readonly allShownSelected = computed(() => {
    const shown = this.devices();
    const picked = this.selectedIds();
    return shown.length > 0 && shown.every((entry) => picked.has(entry.id));
  });
  readonly counts = computed<FleetCounts>(() => {
    let online = 0;
    for (const state of this.states().values()) if (state.online) online++;
    const total = this.states().size;
    return { total, online, offline: total - online };
  });

  constructor() {
    this.stream.messages.pipe(takeUntilDestroyed()).subscribe((message) => this.onMessage(message));
    inject(DestroyRef).onDestroy(() => {
      this.load?.unsubscribe();
      clearTimeout(this.flushTimer);
      clearTimeout(this.unknownTimer);
    });
    this.reload();
  }

  /** The live state of one device (online, last seen, latest values). */
  state(id: string): DeviceLiveState | undefined {
    return this.states().get(id);
  }

  /**
   * Loads the list the api filters by `filter`. Live events for devices outside
   * it are handled as for any unknown device: one refetch, then ignored.
   */
  setFilter(filter: DeviceFilter): void {
    this.filter.set(filter);
    this.refetchedFor.clear();
    this.ignoredIds.clear();
    this.reload();
  }

  /** Picks a device for a bulk action, or puts it back. */
  toggle(id: string, picked = !this.selectedIds().has(id)): void {
    const next = new Set(this.selectedIds());
    if (picked) next.add(id);
    else next.delete(id);
    this.selectedIds.set(next);
  }

  /** Picks every device shown (the api's filter and the search applied), or none when all of them are picked. */
  toggleAllShown(): void {
    if (this.allShownSelected()) {
      const shown = new Set(this.devices().map((entry) => entry.id));
      this.selectedIds.set(new Set([...this.selectedIds()].filter((id) => !shown.has(id))));
    } else {
      this.selectedIds.set(new Set([...this.selectedIds(), ...this.devices().map((entry) => entry.id)]));
    }
  }

  clearSelection(): void {
    this.selectedIds.set(new Set());
  }

  /** Fetches the whole list again, holding live events until it is in. */
  reload(): void {
    // This load also answers any devices waiting for one.
    clearTimeout(this.unknownTimer);
    this.unknownTimer = undefined;
    for (const id of this.unknownIds) this.refetchedFor.add(id);
    this.unknownIds.clear();
    this.load?.unsubscribe();
    this.buffered ??= [];
    this.loadingState.set(true);
    this.load = this.api.listAll(this.filter()).subscribe({
      next: (items) => this.applySnapshot(items),
      error: (error: unknown) => this.loadFailed(error),
    });
  }

  private onMessage(message: StreamMessage): void {
    switch (message.event) {
      case 'telemetry':
      case 'status':
        if (this.buffered) this.hold(message);
        else this.applyEvent(message, false);
        return;
      case 'reset':
        this.reload();
        return;
      case 'state':
      case 'command':
      case 'alarm':
        return; // not shown on the fleet page
      default:
        message satisfies never;
    }
  }

  private hold(message: DeviceMessage): void {
    if (this.bufferOverflowed || !this.buffered) return;
    if (this.buffered.length >= MAX_BUFFERED_EVENTS) {
      this.buffered = [];
      this.bufferOverflowed = true;
      return;
    }
    this.buffered.push(message);
  }

  private applyEvent(message: DeviceMessage, onlyIfNewer: boolean): void {
    const id = message.data.deviceId;
    const current = (this.draft ?? this.states()).get(id);
    if (!current) {
      this.noteUnknown(id);
      return;
    }
    const next =
      message.event === 'telemetry'
        ? mergeTelemetry(current, message.data, Date.now())
        : applyStatus(current, message.data, onlyIfNewer);
    if (next === current) return;
    this.draft ??= new Map(this.states());
    this.draft.set(id, next);
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.draft) this.states.set(this.draft);
    this.draft = null;
  }

  private applySnapshot(items: DeviceListItem[]): void {
    const states = new Map<string, DeviceLiveState>();
    const entries: FleetEntry[] = [];
    for (const { id, name, type, labels, online, lastSeen, latest, model = null } of items) {
      if (states.has(id)) continue; // a device that moved between pages while they loaded
      states.set(id, { online, lastSeen, latest });
      const labelList = Object.entries(labels ?? {}).map(([key, value]) => `${key}=${value}`);
      entries.push({ id, name, type, labels, model, labelList, search: `${id}\n${name}`.toLowerCase() });
      // The rows then need no request per device for their model.
      this.models.assign(id, model);
    }
    entries.sort((a, b) => collator.compare(a.name, b.name) || collator.compare(a.id, b.id));

    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.draft = null;
    this.entryList.set(entries);
    this.states.set(states);
    const picked = this.selectedIds();
    if (picked.size > 0) this.selectedIds.set(new Set([...picked].filter((id) => states.has(id))));
    this.ignoredIds = new Set([...this.refetchedFor].filter((id) => !states.has(id)));
    this.refetchedFor.clear();
    this.errorState.set(null);
    this.loadingState.set(false);
    this.load = undefined;

    const held = this.buffered ?? [];
    const overflowed = this.bufferOverflowed;
    this.buffered = null;
    this.bufferOverflowed = false;
    for (const message of held) this.applyEvent(message, true);
    this.flush();
    if (overflowed) this.reload();
  }

  private loadFailed(error: unknown): void {
    this.load = undefined;
    this.loadingState.set(false);
    this.errorState.set(describeHttpError(error));
    // Keep what is shown current; a later reset or retry loads the list again.
    const held = this.buffered ?? [];
    this.buffered = null;
    this.bufferOverflowed = false;
    for (const message of held) this.applyEvent(message, false);
    this.flush();
  }

  private noteUnknown(id: string): void {
    // After a failed load every device is unknown; refetching for each would
    // poll a failing api. The error banner offers a retry, and a reset reloads.
    if (this.ignoredIds.has(id) || this.errorState() !== null) return;
    this.unknownIds.add(id);
    this.unknownTimer ??= setTimeout(() => this.reload(), UNKNOWN_DEVICE_REFETCH_MS);
  }
}
