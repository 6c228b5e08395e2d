import { ChangeDetectionStrategy, Component, computed, inject, input, signal } from '@angular/core';
import { MatButton } from '@angular/material/button';
import { MatFormField, MatHint, MatLabel } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { MatProgressBar } from '@angular/material/progress-bar';
import { TimestampPipe } from '../ui/format.pipes';
import { DeviceStateStore } from './device-state.store';
import { parseJsonObject } from './state-doc';

interface StateRow {
  key: string;
  reported: string;
  desired: string;
  differs: boolean;
}

const show = (value: unknown) => (value === undefined ? '—' : JSON.stringify(value));

/** Reported and desired state side by side, the delta highlighted, and (for operators) a desired-state editor. */
@Component({
  selector: 'iot-state-card',
  imports: [MatButton, MatFormField, MatLabel, MatInput, MatHint, MatProgressBar, TimestampPipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  styleUrl: './device-cards.scss',
  template: `
    <section class="card" aria-labelledby="state-title">
      <h2 id="state-title">
        State
        @if (store.state(); as state) {
          <span class="muted version">version {{ state.version }}</span>
        }
      </h2>
      @if (store.loading()) {
        <mat-progress-bar mode="indeterminate" aria-label="Loading state" />
      }
      @if (store.error(); as error) {
        <div class="banner error" role="alert">
          <span>Could not load the state: {{ error }}</span>
          <button mat-button type="button" (click)="store.reload()">Retry</button>
        </div>
      }
      @if (store.state(); as state) {
        @if (rows().length > 0) {
          <table class="state-table">
            <caption class="cdk-visually-hidden">
              Reported and desired values; rows marked “differs” are in the delta
            </caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Reported</th>
                <th scope="col">Desired</th>
                <th scope="col"><span class="cdk-visually-hidden">In delta</span></th>
              </tr>
            </thead>
            <tbody>
              @for (row of rows(); track row.key) {
                <tr [class.differs]="row.differs">
                  <th scope="row" class="mono">{{ row.key }}</th>
                  <td class="mono">{{ row.reported }}</td>
                  <td class="mono">{{ row.desired }}</td>
                  <td>
                    @if (row.differs) {
                      <span class="delta-tag">differs</span>
                    }
                  </td>
                </tr>
              }
            </tbody>
          </table>
        } @else {
          <p class="muted">Nothing reported or desired yet.</p>
        }
        <p class="muted small">
          Reported {{ state.reportedAt ? (state.reportedAt | timestamp) : 'never' }} · desired set
          {{ state.desiredAt ? (state.desiredAt | timestamp) : 'never' }}
        </p>

        @if (canEdit()) {
          <form class="form" novalidate (submit)="apply($event)">
            <mat-form-field appearance="outline">
              <mat-label>Desired-state merge patch (JSON)</mat-label>
              <textarea
                matInput
                rows="4"
                spellcheck="false"
                class="mono"
                placeholder='{"interval": 10, "old-key": null}'
                [value]="patchText()"
                (input)="patchText.set($any($event.target).value)"
                [attr.aria-invalid]="!!patchError()"
              ></textarea>
              @if (patchError(); as error) {
                <mat-hint class="error-text" role="alert">{{ error }}</mat-hint>
              } @else {
                <mat-hint>null removes a key; applied on version {{ state.version }}</mat-hint>
              }
            </mat-form-field>
            <div class="actions">
              <button
                mat-flat-button
                type="submit"
                [disabled]="store.saving() || !patchText().trim() || !!patchError()"
              >
                {{ store.saving() ? 'Applying…' : 'Apply' }}
              </button>
            </div>
          </form>
          @if (store.outcome(); as outcome) {
            @switch (outcome.kind) {
              @case ('saved') {
                <p class="banner ok" role="status">Desired state saved as version {{ outcome.version }}.</p>
              }
              @case ('conflict') {
                <p class="banner error" role="alert">{{ outcome.message }}</p>
              }
              @case ('error') {
                <p class="banner error" role="alert">Could not save: {{ outcome.message }}</p>
              }
            }
          }
        }
      }
    </section>
  `,
})
export class StateCard {
  protected readonly store = inject(DeviceStateStore);
  /** Whether the user may change the desired state (operators and admins). */
  readonly canEdit = input(false);

  protected readonly patchText = signal('');
  protected readonly patchError = computed(() => {
    const text = this.patchText().trim();
    if (!text) return null;
    const parsed = parseJsonObject(text);
    return 'error' in parsed ? parsed.error : null;
  });
  protected readonly rows = computed<StateRow[]>(() => {
    const state = this.store.state();
    if (!state) return [];
    const keys = [...new Set([...Object.keys(state.reported), ...Object.keys(state.desired)])].sort();
    return keys.map((key) => ({
      key,
      reported: show(state.reported[key]),
      desired: show(state.desired[key]),
      differs: key in state.delta,
    }));
  });

  protected async apply(event: Event): Promise<void> {
    event.preventDefault();
    const parsed = parseJsonObject(this.patchText().trim());
    if ('error' in parsed) return;
    const outcome = await this.store.setDesired(parsed.value);
    if (outcome.kind === 'saved') this.patchText.set('');
  }
}
