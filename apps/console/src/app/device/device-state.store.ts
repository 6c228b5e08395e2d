import { DestroyRef, inject, Injectable, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import type { DeviceStateView, JsonObject, StateEvent } from '@iot/protocol';
import type { Subscription } from 'rxjs';
import { ControlError } from '../core/control/control-socket.service';
import { ControlService } from '../core/control/control.service';
import { DeviceApi } from '../core/devices/device-api';
import { describeHttpError } from '../core/http-error';
import { StreamService } from '../core/stream/stream.service';
import { stateDelta } from '@iot/protocol';
import { mergePatch } from './state-doc';

/** The outcome of the last desired-state change, for the editor to show. */
export type DesiredOutcome =
  | { kind: 'saved'; version: number }
  | { kind: 'conflict'; message: string }
  | { kind: 'error'; message: string };

/**
 * One device's reported and desired state over REST, kept live by the
 * stream's `state` events; desired-state changes go over the control connection
 * with `expectedVersion`, so a change made meanwhile by someone else is
 * refused (`conflict`) instead of overwritten. Provided by the device page.
 */
@Injectable()
export class DeviceStateStore {
  private readonly api = inject(DeviceApi);
  private readonly control = inject(ControlService);

  private readonly current = signal<DeviceStateView | null>(null);
  private readonly loadingState = signal(false);
  private readonly errorState = signal<string | null>(null);
  private readonly savingState = signal(false);
  private readonly outcomeState = signal<DesiredOutcome | null>(null);
  private deviceId: string | null = null;
  private load: Subscription | undefined;

  readonly state = this.current.asReadonly();
  readonly loading = this.loadingState.asReadonly();
  readonly error = this.errorState.asReadonly();
  readonly saving = this.savingState.asReadonly();
  readonly outcome = this.outcomeState.asReadonly();

  constructor() {
    const stream = inject(StreamService);
    stream
      .on('state')
      .pipe(takeUntilDestroyed())
      .subscribe((event) => this.apply(event));
    stream
      .on('reset')
      .pipe(takeUntilDestroyed())
      .subscribe(() => this.reload());
    inject(DestroyRef).onDestroy(() => this.load?.unsubscribe());
  }

  open(deviceId: string): void {
    if (deviceId !== this.deviceId) {
      this.current.set(null);
      this.outcomeState.set(null);
    }
    this.deviceId = deviceId;
    this.reload();
  }

  reload(): void {
    const deviceId = this.deviceId;
    if (!deviceId) return;
    this.load?.unsubscribe();
    this.loadingState.set(true);
    this.load = this.api.state(deviceId).subscribe({
      next: (state) => {
        this.current.set(state);
        this.errorState.set(null);
        this.loadingState.set(false);
      },
      error: (error: unknown) => {
        this.errorState.set(describeHttpError(error));
        this.loadingState.set(false);
      },
    });
  }

  /** A `state` event from the stream: full documents, never older than what is shown. */
  apply(event: StateEvent): void {
    const state = this.current();
    if (event.deviceId !== this.deviceId || !state || event.version < state.version) return;
    if (event.version > state.version && !event.desired) {
      // A desired change we did not see: fetch the whole state rather than guess.
      this.reload();
      return;
    }
    const reported = event.reported ?? state.reported;
    const desired = event.desired ?? state.desired;
    this.current.set({
      reported,
      desired,
      delta: stateDelta(desired, reported),
      version: event.version,
      reportedAt: event.reported ? event.ts : state.reportedAt,
      desiredAt: event.desired ? event.ts : state.desiredAt,
    });
  }

  /**
   * Applies a merge patch to the desired state, expecting the version shown.
   * On `conflict` the state is reloaded so the operator sees what changed.
   */
  async setDesired(patch: JsonObject): Promise<DesiredOutcome> {
    const state = this.current();
    const deviceId = this.deviceId;
    if (!state || !deviceId) return this.finish({ kind: 'error', message: 'The state has not loaded yet.' });
    this.savingState.set(true);
    this.outcomeState.set(null);
    try {
      const reply = await this.control.send('state.desired.set', { deviceId, patch, expectedVersion: state.version });
      const latest = this.current();
      if (latest && latest.version < reply.version) {
        const desired = mergePatch(latest.desired, patch);
        this.current.set({
          ...latest,
          desired,
          delta: stateDelta(desired, latest.reported),
          version: reply.version,
          desiredAt: Date.now(),
        });
      }
      return this.finish({ kind: 'saved', version: reply.version });
    } catch (error) {
      if (error instanceof ControlError && error.code === 'conflict') {
        this.reload();
        return this.finish({
          kind: 'conflict',
          message: `Someone else changed the desired state after version ${state.version}. It has been reloaded: review it and apply your change again.`,
        });
      }
      return this.finish({ kind: 'error', message: error instanceof Error ? error.message : 'The change failed.' });
    } finally {
      this.savingState.set(false);
    }
  }

  private finish(outcome: DesiredOutcome): DesiredOutcome {
    this.outcomeState.set(outcome);
    return outcome;
  }
}
