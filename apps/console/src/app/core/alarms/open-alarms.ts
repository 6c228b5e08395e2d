import { computed, DestroyRef, inject, Injectable, signal } from '@angular/core';
import type { AlarmEvent, AlarmView } from '@iot/protocol';
import { EMPTY, expand, map, type Observable, reduce, type Subscription } from 'rxjs';
import { describeHttpError } from '../http-error';
import { StreamService } from '../stream/stream.service';
import { AlarmsApi } from './alarms-api';
import { applyAlarmEvent, compareAlarms, isOpen } from './alarm-events';

/** Pages of open alarms read at most (500 each): past this the count says "at least". */
export const MAX_OPEN_ALARM_PAGES = 20;
/** Events held while the open alarms load; past this the load starts again. */
export const MAX_HELD_ALARM_EVENTS = 10_000;

/**
 * The open (raised or acknowledged) alarms the signed-in user may see:
 * loaded over REST, then kept current by the stream's `alarm` events, with
 * no polling. Events that arrive while the list loads are applied on top of
 * it; each is keyed by the alarm's id, so applying one twice changes
 * nothing. A `reset` reloads. Feeds the navigation's badge and the device
 * page's alarms.
 */
@Injectable({ providedIn: 'root' })
export class OpenAlarms {
  private readonly api = inject(AlarmsApi);
  private readonly stream = inject(StreamService);

  private readonly byId = signal<ReadonlyMap<string, AlarmView>>(new Map());
  private readonly errorState = signal<string | null>(null);
  private readonly truncatedState = signal(false);
  private load: Subscription | undefined;
  private held: AlarmEvent[] | null = null;
  private started = false;
  private readonly subscription: Subscription;

  /** Open alarms, worst then newest first. */
  readonly alarms = computed(() => [...this.byId().values()].sort(compareAlarms));
  readonly count = computed(() => this.byId().size);
  /** True when there were more open alarms than were read: `count` is a lower bound. */
  readonly truncated = this.truncatedState.asReadonly();
  readonly error = this.errorState.asReadonly();

  constructor() {
    this.subscription = this.stream.messages.subscribe((message) => {
      if (!this.started) return;
      if (message.event === 'alarm') this.onEvent(message.data);
      else if (message.event === 'reset') this.reload();
    });
    inject(DestroyRef).onDestroy(() => {
      this.subscription.unsubscribe();
      this.load?.unsubscribe();
    });
  }

  /** The device's open alarms, worst first (a signal read). */
  forDevice(deviceId: string): AlarmView[] {
    return this.alarms().filter((alarm) => alarm.deviceId === deviceId);
  }

  /** Starts following (once signed in); does nothing when already started. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.reload();
  }

  /** Forgets everything (signed out). */
  stop(): void {
    this.started = false;
    this.load?.unsubscribe();
    this.load = undefined;
    this.held = null;
    this.byId.set(new Map());
    this.errorState.set(null);
    this.truncatedState.set(false);
  }

  /** An alarm as an action's answer gave it: shown at once, before its event arrives. */
  put(alarm: AlarmView): void {
    const next = new Map(this.byId());
    if (isOpen(alarm)) next.set(alarm.id, alarm);
    else next.delete(alarm.id);
    this.byId.set(next);
  }

  reload(): void {
    this.load?.unsubscribe();
    this.held ??= [];
    this.load = this.readAll().subscribe({
      next: ({ items, truncated }) => {
        const next = new Map<string, AlarmView>();
        for (const alarm of items) if (isOpen(alarm)) next.set(alarm.id, alarm);
        const held = this.held ?? [];
        this.held = null;
        this.load = undefined;
        this.byId.set(next);
        this.truncatedState.set(truncated);
        this.errorState.set(null);
        for (const event of held) this.onEvent(event);
      },
      error: (error: unknown) => {
        this.load = undefined;
        this.errorState.set(describeHttpError(error));
        const held = this.held ?? [];
        this.held = null;
        for (const event of held) this.onEvent(event);
      },
    });
  }

  private readAll(): Observable<{ items: AlarmView[]; truncated: boolean }> {
    let pages = 1;
    let truncated = false;
    return this.api.list({ active: true }).pipe(
      expand((page) => {
        if (!page.nextCursor) return EMPTY;
        if (pages >= MAX_OPEN_ALARM_PAGES) {
          truncated = true;
          return EMPTY;
        }
        pages++;
        return this.api.list({ active: true }, page.nextCursor);
      }),
      reduce((all, page) => all.concat(page.items), [] as AlarmView[]),
      map((items) => ({ items, truncated })),
    );
  }

  private onEvent(event: AlarmEvent): void {
    if (this.held) {
      if (this.held.length >= MAX_HELD_ALARM_EVENTS) {
        this.held = null;
        this.reload();
        return;
      }
      this.held.push(event);
      return;
    }
    const current = this.byId().get(event.alarmId);
    const next = applyAlarmEvent(current, event);
    if (next === current) return;
    const byId = new Map(this.byId());
    if (next && isOpen(next)) byId.set(next.id, next);
    else byId.delete(event.alarmId);
    this.byId.set(byId);
  }
}
