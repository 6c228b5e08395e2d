import { computed, DestroyRef, inject, Injectable, signal } from '@angular/core';
import type { AlarmEvent, AlarmView } from '@iot/protocol';
import type { Subscription } from 'rxjs';
import { applyAlarmEvent, compareAlarms, matchesFilter } from '../core/alarms/alarm-events';
import { type AlarmFilter, AlarmsApi } from '../core/alarms/alarms-api';
import { describeHttpError } from '../core/http-error';
import { StreamService } from '../core/stream/stream.service';

/** Alarms shown at most: the list is one page of the api's largest size, and more on request. */
export const MAX_SHOWN_ALARMS = 5_000;

/**
 * The alarms page's list: one page of `GET /alarms` for the filter, then
 * kept current by `alarm` events: an alarm in the list follows its
 * transitions (one cleared stays shown, as cleared, until the next load), a
 * new one that matches the filter is added. Events during a load are applied
 * on top of it. Provided by the page.
 */
@Injectable()
export class AlarmsStore {
  private readonly api = inject(AlarmsApi);
  private readonly stream = inject(StreamService);

  private readonly byId = signal<ReadonlyMap<string, AlarmView>>(new Map());
  private readonly loadingState = signal(true);
  private readonly errorState = signal<string | null>(null);
  private readonly cursor = signal<string | null>(null);
  private load: Subscription | undefined;
  private held: AlarmEvent[] | null = null;

  /** Open alarms first (worst, then newest), then the rest. */
  readonly alarms = computed(() => [...this.byId().values()].sort(compareAlarms));
  readonly filter = signal<AlarmFilter>({ active: true });
  readonly loading = this.loadingState.asReadonly();
  readonly error = this.errorState.asReadonly();
  readonly hasMore = computed(() => this.cursor() !== null && this.byId().size < MAX_SHOWN_ALARMS);

  constructor() {
    const subscription = this.stream.messages.subscribe((message) => {
      if (message.event === 'alarm') this.onEvent(message.data);
      else if (message.event === 'reset') this.reload();
    });
    inject(DestroyRef).onDestroy(() => {
      subscription.unsubscribe();
      this.load?.unsubscribe();
    });
    this.reload();
  }

  setFilter(filter: AlarmFilter): void {
    this.filter.set(filter);
    this.reload();
  }

  reload(): void {
    this.fetch(null);
  }

  more(): void {
    const cursor = this.cursor();
    if (cursor && !this.load) this.fetch(cursor);
  }

  /** An alarm as an action's answer gave it. */
  put(alarm: AlarmView): void {
    const next = new Map(this.byId());
    next.set(alarm.id, alarm);
    this.byId.set(next);
  }

  private fetch(cursor: string | null): void {
    this.load?.unsubscribe();
    this.held ??= [];
    this.loadingState.set(true);
    this.errorState.set(null);
    this.load = this.api.list(this.filter(), cursor).subscribe({
      next: (page) => {
        const next = new Map(cursor ? this.byId() : []);
        for (const alarm of page.items) if (!next.has(alarm.id)) next.set(alarm.id, alarm);
        this.byId.set(next);
        this.cursor.set(page.nextCursor);
        this.done();
      },
      error: (error: unknown) => {
        this.errorState.set(`Could not load the alarms: ${describeHttpError(error)}`);
        this.done();
      },
    });
  }

  private done(): void {
    this.load = undefined;
    this.loadingState.set(false);
    const held = this.held ?? [];
    this.held = null;
    for (const event of held) this.onEvent(event);
  }

  private onEvent(event: AlarmEvent): void {
    if (this.held) {
      // A load that never answers must not hold events without bound.
      if (this.held.length < MAX_SHOWN_ALARMS) this.held.push(event);
      return;
    }
    const current = this.byId().get(event.alarmId);
    const next = applyAlarmEvent(current, event);
    if (!next || next === current) return;
    if (!current && (!matchesFilter(next, this.filter()) || this.byId().size >= MAX_SHOWN_ALARMS)) return;
    const byId = new Map(this.byId());
    byId.set(next.id, next);
    this.byId.set(byId);
  }
}
