import { ChangeDetectionStrategy, Component, computed, inject, input, signal } from '@angular/core';
import { FormGroup } from '@angular/forms';
import { MatButton } from '@angular/material/button';
import { MatFormField, MatHint, MatLabel } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { MatProgressBar } from '@angular/material/progress-bar';
import type { JsonObject, ValueSchema } from '@iot/protocol';
import { type FormlyFieldConfig, FormlyForm } from '@ngx-formly/core';
import { FormlyJsonschema } from '@ngx-formly/core/json-schema';
import { TimestampPipe } from '../ui/format.pipes';
import { DeviceModelStore } from './device-model.store';
import { DeviceStateStore } from './device-state.store';
import { desiredPatch, desiredSchema, desiredStart, formFromSchema } from './model-form';
import { parseJsonObject } from './state-doc';

interface StateRow {
  key: string;
  /** The model's title for it, if any. */
  title: string | null;
  reported: string;
  desired: string;
  differs: boolean;
}

interface DesiredForm {
  group: FormGroup;
  value: JsonObject;
  fields: FormlyFieldConfig[];
  /** The desired document the form started from. */
  current: JsonObject;
}

/** A state value as JSON, a number with its unit. */
function show(value: unknown, unit: string | undefined): string {
  if (value === undefined) return '—';
  return typeof value === 'number' && unit ? `${JSON.stringify(value)}\u00a0${unit}` : JSON.stringify(value);
}

const sameJson = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

/** Reported and desired state side by side, the delta highlighted, and (for operators) a desired-state editor. */
@Component({
  selector: 'iot-state-card',
  imports: [MatButton, MatFormField, MatLabel, MatInput, MatHint, MatProgressBar, FormlyForm, TimestampPipe],
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
                  <th scope="row">
                    @if (row.title) {
                      {{ row.title }} <span class="mono muted small">{{ row.key }}</span>
                    } @else {
                      <span class="mono">{{ row.key }}</span>
                    }
                  </th>
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

        @if (canEdit() && desiredForm(); as form) {
          <form class="form" novalidate (submit)="applyForm($event, form)" aria-label="Desired state">
            <formly-form class="generated" [form]="form.group" [fields]="form.fields" [model]="form.value" />
            <div class="actions">
              <button
                mat-flat-button
                type="submit"
                [disabled]="store.saving() || form.group.invalid || !hasChanges(form)"
              >
                {{ store.saving() ? 'Applying…' : 'Apply' }}
              </button>
              <span class="muted small">applied on version {{ state.version }}</span>
            </div>
          </form>
        } @else if (canEdit() && model.loaded() && model.model()) {
          <p class="muted small">The device's model has no desired-state properties.</p>
        } @else if (canEdit() && model.loaded()) {
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
        }
        @if (canEdit()) {
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
  protected readonly model = inject(DeviceModelStore);
  private readonly jsonSchema = inject(FormlyJsonschema);
  /** Whether the user may change the desired state (operators and admins). */
  readonly canEdit = input(false);

  /** The desired document alone: reported changes (frequent) leave the form, and what is typed in it, alone. */
  private readonly desiredNow = computed(() => this.store.state()?.desired ?? null, { equal: sameJson });
  /** With a model that declares desired properties: a form of them, starting from what is desired now. */
  protected readonly desiredForm = computed<DesiredForm | null>(() => {
    const desired = this.model.desired();
    const current = this.desiredNow();
    if (!desired || !current) return null;
    const value = desiredStart(desired, current);
    // Defaults are for commands; a desired property not set stays unset until the operator sets it.
    const fields = [formFromSchema(this.jsonSchema, withoutDefaults(desiredSchema(desired)))];
    return { group: new FormGroup({}), value, fields, current };
  });

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
    const model = this.model.model();
    return keys.map((key) => {
      const desired = model?.desired?.[key];
      const reported = model?.reported?.[key];
      const unit = desired?.unit ?? reported?.unit;
      return {
        key,
        title: desired?.title ?? reported?.title ?? null,
        reported: show(state.reported[key], unit),
        desired: show(state.desired[key], unit),
        differs: key in state.delta,
      };
    });
  });

  protected hasChanges(form: DesiredForm): boolean {
    return Object.keys(desiredPatch(form.value, form.current)).length > 0;
  }

  protected async applyForm(event: Event, form: DesiredForm): Promise<void> {
    event.preventDefault();
    if (form.group.invalid) {
      form.group.markAllAsTouched();
      return;
    }
    const patch = desiredPatch(form.value, form.current);
    if (Object.keys(patch).length > 0) await this.store.setDesired(patch);
  }

  protected async apply(event: Event): Promise<void> {
    event.preventDefault();
    const parsed = parseJsonObject(this.patchText().trim());
    if ('error' in parsed) return;
    const outcome = await this.store.setDesired(parsed.value);
    if (outcome.kind === 'saved') this.patchText.set('');
  }
}

/** A schema with its `default`s taken out, at every depth. */
function withoutDefaults(schema: ValueSchema): ValueSchema {
  const { properties, items, ...rest } = schema;
  const out: ValueSchema = { ...rest };
  delete out.default;
  if (properties) {
    out.properties = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, withoutDefaults(v)]));
  }
  if (items) out.items = withoutDefaults(items);
  return out;
}
