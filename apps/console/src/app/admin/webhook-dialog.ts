import { ChangeDetectionStrategy, Component, computed, DestroyRef, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { MAT_DIALOG_DATA, MatDialog, MatDialogContent, MatDialogRef, MatDialogTitle } from '@angular/material/dialog';
import {
  ALARM_SEVERITIES,
  type AlarmRuleView,
  type AlarmSeverity,
  MAX_WEBHOOK_NAME,
  MAX_WEBHOOK_URL,
  type WebhookInput,
  webhookInputSchema,
  type WebhookView,
  type WebhookWithSecret,
} from '@iot/protocol';
import type { Observable } from 'rxjs';
import { AlarmsApi } from '../core/alarms/alarms-api';
import { describeHttpError } from '../core/http-error';
import { WebhooksApi } from '../core/webhooks/webhooks-api';
import { dialogSize } from './dialog-size';
import { DialogActions } from '../ui/dialog-actions';
import { FormProblems } from '../ui/form-problems';

export interface WebhookForm {
  name: string;
  url: string;
  /** '' for every severity. */
  minSeverity: AlarmSeverity | '';
  /** Empty for every rule. */
  ruleIds: readonly string[];
  enabled: boolean;
}

/** The request for the form, checked by the protocol's schema: the input, or what is wrong. */
export function webhookRequest(form: WebhookForm): { input: WebhookInput } | { problems: string[] } {
  const candidate: WebhookInput = { name: form.name.trim(), url: form.url.trim(), enabled: form.enabled };
  if (form.minSeverity) candidate.minSeverity = form.minSeverity;
  if (form.ruleIds.length > 0) candidate.ruleIds = [...form.ruleIds];
  const parsed = webhookInputSchema.safeParse(candidate);
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((issue) => {
        const where = issue.path.filter((part) => typeof part === 'string').join(' ');
        return where ? `${where}: ${issue.message}` : issue.message;
      }),
    };
  }
  return { input: parsed.data };
}

/**
 * Creates a webhook (closes with it and its secret) or edits one (`data`;
 * closes with it, the secret unchanged).
 */
@Component({
  selector: 'iot-webhook-dialog',
  imports: [MatDialogTitle, MatDialogContent, DialogActions, FormProblems],
  template: `
    <h2 mat-dialog-title>{{ webhook ? 'Edit the webhook' : 'New webhook' }}</h2>
    <form class="form" novalidate (submit)="save($event)">
      <mat-dialog-content>
        <div class="field">
          <label for="webhook-name">Name</label>
          <input
            id="webhook-name"
            name="name"
            autocomplete="off"
            [attr.maxlength]="maxName"
            [value]="form().name"
            (input)="set('name', $any($event.target).value)"
          />
        </div>
        <div class="field">
          <label for="webhook-url">URL</label>
          <input
            id="webhook-url"
            name="url"
            type="url"
            autocomplete="off"
            [attr.maxlength]="maxUrl"
            placeholder="https://example.com/alarms"
            [value]="form().url"
            (input)="set('url', $any($event.target).value)"
          />
        </div>
        <div class="field">
          <label for="webhook-minSeverity">Minimum severity</label>
          <select
            id="webhook-minSeverity"
            name="minSeverity"
            [value]="form().minSeverity"
            (change)="set('minSeverity', $any($event.target).value)"
          >
            <option value="" [selected]="form().minSeverity === ''">every severity</option>
            @for (s of severities; track s) {
              <option [value]="s" [selected]="s === form().minSeverity">{{ s }} or worse</option>
            }
          </select>
        </div>
        <fieldset>
          <legend>Rules (none picked: every rule)</legend>
          @for (rule of rules(); track rule.id) {
            <label class="check">
              <input
                type="checkbox"
                [checked]="form().ruleIds.includes(rule.id)"
                (change)="toggleRule(rule.id, $any($event.target).checked)"
              />
              {{ rule.name }}
            </label>
          } @empty {
            <p class="muted">No alarm rules yet.</p>
          }
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
        <iot-form-problems [problems]="touched() ? problems() : []" [error]="error()" />
      </mat-dialog-content>
      <iot-dialog-actions
        [pending]="pending()"
        [label]="webhook ? 'Save webhook' : 'Create webhook'"
        pendingLabel="Saving…"
      />
    </form>
  `,
  styleUrls: ['./admin-dialog.scss', '../alarms/rule-dialog.scss'],
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class WebhookDialog {
  private readonly api = inject(WebhooksApi);
  private readonly dialogRef = inject<MatDialogRef<WebhookDialog, WebhookView | WebhookWithSecret>>(MatDialogRef);
  private readonly destroyRef = inject(DestroyRef);
  protected readonly webhook = inject<WebhookView | null>(MAT_DIALOG_DATA, { optional: true });

  protected readonly severities = ALARM_SEVERITIES;
  protected readonly maxName = MAX_WEBHOOK_NAME;
  protected readonly maxUrl = MAX_WEBHOOK_URL;
  protected readonly rules = signal<readonly AlarmRuleView[]>([]);
  protected readonly form = signal<WebhookForm>({
    name: this.webhook?.name ?? '',
    url: this.webhook?.url ?? '',
    minSeverity: this.webhook?.minSeverity ?? '',
    ruleIds: this.webhook?.ruleIds ?? [],
    enabled: this.webhook?.enabled ?? true,
  });
  protected readonly touched = signal(false);
  protected readonly pending = signal(false);
  protected readonly error = signal<string | null>(null);
  private readonly result = computed(() => webhookRequest(this.form()));
  protected readonly problems = computed(() => {
    const result = this.result();
    return 'problems' in result ? result.problems : [];
  });

  constructor() {
    inject(AlarmsApi)
      .rules()
      .pipe(takeUntilDestroyed())
      .subscribe({ next: (rules) => this.rules.set(rules), error: () => this.rules.set([]) });
  }

  protected set<K extends keyof WebhookForm>(field: K, value: WebhookForm[K]): void {
    this.form.update((form) => ({ ...form, [field]: value }));
  }

  protected toggleRule(id: string, picked: boolean): void {
    const others = this.form().ruleIds.filter((ruleId) => ruleId !== id);
    this.set('ruleIds', picked ? [...others, id] : others);
  }

  protected save(event: Event): void {
    event.preventDefault();
    this.touched.set(true);
    const result = this.result();
    if (!('input' in result) || this.pending()) return;
    this.pending.set(true);
    this.error.set(null);
    const saving: Observable<WebhookView | WebhookWithSecret> = this.webhook
      ? this.api.update(this.webhook.id, result.input)
      : this.api.create(result.input);
    saving.pipe(takeUntilDestroyed(this.destroyRef)).subscribe({
      next: (webhook) => this.dialogRef.close(webhook),
      error: (error: unknown) => {
        this.pending.set(false);
        this.error.set(`Could not save the webhook: ${describeHttpError(error)}`);
      },
    });
  }
}

export function openWebhookDialog(
  dialog: MatDialog,
  webhook: WebhookView | null,
): Observable<WebhookView | WebhookWithSecret | undefined> {
  return dialog
    .open<WebhookDialog, WebhookView | null, WebhookView | WebhookWithSecret>(WebhookDialog, {
      ...dialogSize('34rem'),
      data: webhook,
    })
    .afterClosed();
}
