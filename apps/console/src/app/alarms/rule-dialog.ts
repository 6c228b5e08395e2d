import {
  ChangeDetectionStrategy,
  Component,
  computed,
  DestroyRef,
  effect,
  inject,
  signal,
  untracked,
} from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { MAT_DIALOG_DATA, MatDialog, MatDialogContent, MatDialogRef, MatDialogTitle } from '@angular/material/dialog';
import {
  ALARM_SEVERITIES,
  type AlarmRuleView,
  type DeviceModel,
  MAX_ALARM_RULE_NAME,
  type ModelSummaryView,
} from '@iot/protocol';
import type { Observable } from 'rxjs';
import { dialogSize } from '../admin/dialog-size';
import { AlarmsApi } from '../core/alarms/alarms-api';
import { DeviceApi } from '../core/devices/device-api';
import { describeHttpError } from '../core/http-error';
import { DeviceModels } from '../core/models/device-models';
import {
  CONDITION_KINDS,
  CONDITION_LABELS,
  EMPTY_RULE_FORM,
  numericKeys,
  ruleFormValue,
  type RuleFormValue,
  ruleRequest,
} from './rule-form';
import { DialogActions } from '../ui/dialog-actions';
import { FormProblems } from '../ui/form-problems';

/**
 * Creates a rule, or edits one (`data` the rule). The telemetry key is picked
 * from the model's numeric keys, with their units, when the target is a model
 * or a device that has one; typed otherwise. Closes with the saved rule.
 */
@Component({
  selector: 'iot-rule-dialog',
  imports: [MatDialogTitle, MatDialogContent, DialogActions, FormProblems],
  template: `
    <h2 mat-dialog-title>{{ rule ? 'Edit the rule' : 'New alarm rule' }}</h2>
    <form class="rule-form" novalidate (submit)="save($event)">
      <mat-dialog-content>
        <div class="field">
          <label for="rule-name">Name</label>
          <input
            id="rule-name"
            name="name"
            autocomplete="off"
            [attr.maxlength]="maxName"
            [value]="form().name"
            (input)="set('name', $any($event.target).value)"
          />
        </div>
        <div class="field">
          <label for="rule-severity">Severity</label>
          <select
            id="rule-severity"
            name="severity"
            [value]="form().severity"
            (change)="set('severity', $any($event.target).value)"
          >
            @for (s of severities; track s) {
              <option [value]="s" [selected]="s === form().severity">{{ s }}</option>
            }
          </select>
        </div>
        <fieldset>
          <legend>Target</legend>
          <div class="field">
            <label for="rule-target">Applies to</label>
            <select
              id="rule-target"
              name="target"
              [value]="form().targetKind"
              (change)="set('targetKind', $any($event.target).value)"
            >
              <option value="model" [selected]="form().targetKind === 'model'">every device of a model</option>
              <option value="device" [selected]="form().targetKind === 'device'">one device</option>
              <option value="labels" [selected]="form().targetKind === 'labels'">devices with labels</option>
            </select>
          </div>
          @switch (form().targetKind) {
            @case ('model') {
              <div class="field">
                <label for="rule-model">Model</label>
                <select
                  id="rule-model"
                  name="model"
                  [value]="form().modelId"
                  (change)="set('modelId', $any($event.target).value)"
                >
                  <option value="" [selected]="form().modelId === ''">pick a model</option>
                  @for (m of models(); track m.id) {
                    <option [value]="m.id" [selected]="m.id === form().modelId">
                      {{ m.title ?? m.id }} ({{ m.id }})
                    </option>
                  }
                </select>
              </div>
            }
            @case ('device') {
              <div class="field">
                <label for="rule-device">Device id</label>
                <input
                  id="rule-device"
                  name="device"
                  autocomplete="off"
                  maxlength="64"
                  [value]="form().deviceId"
                  (change)="set('deviceId', $any($event.target).value)"
                />
              </div>
            }
            @case ('labels') {
              <div class="field">
                <label for="rule-labels">Label selector</label>
                <input
                  id="rule-labels"
                  name="labels"
                  autocomplete="off"
                  maxlength="2048"
                  placeholder="site=a,floor=2"
                  [value]="form().labels"
                  (input)="set('labels', $any($event.target).value)"
                />
              </div>
            }
          }
        </fieldset>
        <fieldset>
          <legend>Condition</legend>
          <div class="field">
            <label for="rule-condition">When</label>
            <select
              id="rule-condition"
              name="condition"
              [value]="form().conditionKind"
              (change)="set('conditionKind', $any($event.target).value)"
            >
              @for (kind of conditionKinds; track kind) {
                <option [value]="kind" [selected]="kind === form().conditionKind">{{ conditionLabels[kind] }}</option>
              }
            </select>
          </div>
          @if (watchesValue()) {
            @if (keys().length > 0) {
              <div class="field">
                <label for="rule-key">Telemetry key</label>
                <select id="rule-key" name="key" [value]="form().key" (change)="set('key', $any($event.target).value)">
                  <option value="" [selected]="form().key === ''">pick a key</option>
                  @for (k of keys(); track k.key) {
                    <option [value]="k.key" [selected]="k.key === form().key">{{ k.label }}</option>
                  }
                </select>
              </div>
            } @else {
              <div class="field">
                <label for="rule-key">Telemetry key</label>
                <input
                  id="rule-key"
                  name="key"
                  autocomplete="off"
                  maxlength="64"
                  [value]="form().key"
                  (input)="set('key', $any($event.target).value)"
                />
              </div>
            }
            @if (form().conditionKind === 'outside') {
              <div class="field">
                <label for="rule-low">Low</label>
                <input
                  id="rule-low"
                  name="low"
                  inputmode="decimal"
                  [value]="form().low"
                  (input)="set('low', $any($event.target).value)"
                />
              </div>
              <div class="field">
                <label for="rule-high">High</label>
                <input
                  id="rule-high"
                  name="high"
                  inputmode="decimal"
                  [value]="form().high"
                  (input)="set('high', $any($event.target).value)"
                />
              </div>
            } @else {
              <div class="field">
                <label for="rule-threshold">Threshold{{ unit() ? ' (' + unit() + ')' : '' }}</label>
                <input
                  id="rule-threshold"
                  name="threshold"
                  inputmode="decimal"
                  [value]="form().threshold"
                  (input)="set('threshold', $any($event.target).value)"
                />
              </div>
            }
            <div class="field">
              <label for="rule-hysteresis">Hysteresis</label>
              <input
                id="rule-hysteresis"
                name="hysteresis"
                inputmode="decimal"
                [value]="form().hysteresis"
                (input)="set('hysteresis', $any($event.target).value)"
              />
            </div>
          }
          <div class="field">
            <label for="rule-for">{{ watchesValue() ? 'Holding for (seconds)' : 'For (seconds)' }}</label>
            <input
              id="rule-for"
              name="for"
              inputmode="decimal"
              [value]="form().forSeconds"
              (input)="set('forSeconds', $any($event.target).value)"
            />
          </div>
        </fieldset>
        <label class="check">
          <input
            type="checkbox"
            name="enabled"
            [checked]="form().enabled"
            (change)="set('enabled', $any($event.target).checked)"
          />
          Enabled
        </label>
        <iot-form-problems [problems]="touched() ? problems() : []" problemsLabel="What is wrong" [error]="error()" />
      </mat-dialog-content>
      <iot-dialog-actions [pending]="pending()" [label]="rule ? 'Save rule' : 'Create rule'" pendingLabel="Saving…" />
    </form>
  `,
  styleUrls: ['../admin/admin-dialog.scss', './rule-dialog.scss'],
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class RuleDialog {
  private readonly api = inject(AlarmsApi);
  private readonly deviceApi = inject(DeviceApi);
  private readonly deviceModels = inject(DeviceModels);
  private readonly dialogRef = inject<MatDialogRef<RuleDialog, AlarmRuleView>>(MatDialogRef);
  private readonly destroyRef = inject(DestroyRef);
  protected readonly rule = inject<AlarmRuleView | null>(MAT_DIALOG_DATA, { optional: true });

  protected readonly severities = ALARM_SEVERITIES;
  protected readonly conditionKinds = CONDITION_KINDS;
  protected readonly conditionLabels = CONDITION_LABELS;
  protected readonly maxName = MAX_ALARM_RULE_NAME;
  protected readonly form = signal<RuleFormValue>(this.rule ? ruleFormValue(this.rule) : EMPTY_RULE_FORM);
  protected readonly models = signal<readonly ModelSummaryView[]>([]);
  /** The chosen model's definition, at its newest version. */
  private readonly modelDefinition = signal<DeviceModel | null>(null);
  protected readonly touched = signal(false);
  protected readonly pending = signal(false);
  protected readonly error = signal<string | null>(null);

  protected readonly watchesValue = computed(() => {
    const kind = this.form().conditionKind;
    return kind === 'above' || kind === 'below' || kind === 'outside';
  });
  /** The model whose keys are offered: the chosen model's, or the chosen device's. */
  private readonly targetModel = computed<DeviceModel | null>(() => {
    const form = this.form();
    if (form.targetKind === 'model') return this.modelDefinition();
    if (form.targetKind === 'device' && form.deviceId.trim())
      return this.deviceModels.model(form.deviceId.trim()) ?? null;
    return null;
  });
  protected readonly keys = computed(() => numericKeys(this.targetModel()));
  protected readonly unit = computed(() => {
    const key = this.form().key;
    const specs = this.targetModel()?.telemetry ?? {};
    return Object.prototype.hasOwnProperty.call(specs, key) ? (specs[key].unit ?? '') : '';
  });
  protected readonly result = computed(() => ruleRequest(this.form()));
  protected readonly problems = computed(() => {
    const result = this.result();
    return 'problems' in result ? result.problems : [];
  });

  constructor() {
    this.api
      .models()
      .pipe(takeUntilDestroyed())
      .subscribe({ next: (page) => this.models.set(page.items), error: () => this.models.set([]) });
    let cancel: (() => void) | undefined;
    this.destroyRef.onDestroy(() => cancel?.());
    effect(() => {
      const form = this.form();
      const modelId = form.targetKind === 'model' ? form.modelId : '';
      const summary = this.models().find((m) => m.id === modelId);
      untracked(() => {
        if (!summary) {
          this.modelDefinition.set(null);
          return;
        }
        if (this.modelDefinition()?.id === summary.id) return;
        cancel?.();
        const subscription = this.deviceApi.modelVersion(summary.id, summary.version).subscribe({
          next: (model) => this.modelDefinition.set(model),
          error: () => this.modelDefinition.set(null),
        });
        cancel = () => subscription.unsubscribe();
      });
    });
    effect(() => {
      const form = this.form();
      const deviceId = form.targetKind === 'device' ? form.deviceId.trim() : '';
      if (deviceId) untracked(() => this.deviceModels.request(deviceId));
    });
  }

  protected set<K extends keyof RuleFormValue>(field: K, value: RuleFormValue[K]): void {
    this.form.update((form) => ({ ...form, [field]: value }));
  }

  protected save(event: Event): void {
    event.preventDefault();
    this.touched.set(true);
    const result = this.result();
    if (!('request' in result) || this.pending()) return;
    this.pending.set(true);
    this.error.set(null);
    const saving = this.rule ? this.api.updateRule(this.rule.id, result.request) : this.api.createRule(result.request);
    saving.pipe(takeUntilDestroyed(this.destroyRef)).subscribe({
      next: (rule) => this.dialogRef.close(rule),
      error: (error: unknown) => {
        this.pending.set(false);
        this.error.set(`Could not save the rule: ${describeHttpError(error)}`);
      },
    });
  }
}

export function openRuleDialog(dialog: MatDialog, rule: AlarmRuleView | null): Observable<AlarmRuleView | undefined> {
  return dialog
    .open<RuleDialog, AlarmRuleView | null, AlarmRuleView>(RuleDialog, { ...dialogSize('34rem'), data: rule })
    .afterClosed();
}
