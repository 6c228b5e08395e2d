import { Clipboard } from '@angular/cdk/clipboard';
import { ChangeDetectionStrategy, Component, DestroyRef, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { MatButton } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import type { WebhookDeliveryView, WebhookView } from '@iot/protocol';
import { describeHttpError } from '../core/http-error';
import { WebhooksApi } from '../core/webhooks/webhooks-api';
import { TimestampPipe } from '../ui/format.pipes';
import { openWebhookDialog } from './webhook-dialog';
import { ListStatus } from '../ui/list-status';
import { pageList } from '../ui/page-list';

interface ShownSecret {
  name: string;
  secret: string;
}

interface DeliveryLog {
  webhookId: string;
  items: readonly WebhookDeliveryView[];
  nextCursor: string | null;
  loading: boolean;
  error: string | null;
}

/**
 * Webhooks (admin): where alarm transitions are sent, signed. A new or
 * rotated secret is shown once, with a copy button; each webhook's delivery
 * log opens below its row.
 */
@Component({
  selector: 'iot-webhooks-page',
  imports: [MatButton, TimestampPipe, ListStatus],
  template: `
    <header class="header">
      <h1 class="title" id="webhooks-title">Webhooks</h1>
      <span class="spacer"></span>
      <button mat-flat-button type="button" (click)="create()">New webhook</button>
    </header>
    <iot-list-status [list]="list" label="Loading webhooks" />
    @if (notice(); as message) {
      <p class="notice" role="status">{{ message }}</p>
    }
    @if (secret(); as shown) {
      <section class="secret" aria-labelledby="secret-title">
        <h2 id="secret-title" class="secret-title">Signing secret of {{ shown.name }}</h2>
        <p>It is shown this once: keep it where the receiver verifies <code>X-Iot-Signature</code>.</p>
        <p class="mono" data-testid="webhook-secret">{{ shown.secret }}</p>
        <button mat-button type="button" (click)="copy(shown.secret)">Copy the secret</button>
        <button mat-button type="button" (click)="secret.set(null)">Done</button>
        @if (copied()) {
          <span role="status">Copied.</span>
        }
      </section>
    }
    <table aria-labelledby="webhooks-title">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">URL</th>
          <th scope="col">Sends</th>
          <th scope="col">Enabled</th>
          <th scope="col"><span class="cdk-visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        @for (hook of webhooks(); track hook.id) {
          <tr [attr.data-webhook]="hook.id">
            <th scope="row">{{ hook.name }}</th>
            <td class="mono">{{ hook.url }}</td>
            <td>
              {{ hook.minSeverity ? hook.minSeverity + ' or worse' : 'every severity' }},
              {{ hook.ruleIds ? hook.ruleIds.length + ' rule' + (hook.ruleIds.length === 1 ? '' : 's') : 'every rule' }}
            </td>
            <td>{{ hook.enabled ? 'yes' : 'no' }}</td>
            <td class="actions">
              <button mat-button type="button" (click)="edit(hook)">Edit</button>
              <button mat-button type="button" (click)="test(hook)">Send a test</button>
              <button mat-button type="button" (click)="rotate(hook)">Rotate secret</button>
              <button
                mat-button
                type="button"
                [attr.aria-expanded]="log()?.webhookId === hook.id"
                (click)="toggleLog(hook)"
              >
                Deliveries
              </button>
              @if (confirming() === hook.id) {
                <button mat-button type="button" class="delete" (click)="remove(hook)">Delete with its log</button>
                <button mat-button type="button" (click)="confirming.set(null)">Keep</button>
              } @else {
                <button
                  mat-button
                  type="button"
                  class="delete"
                  [attr.aria-label]="'Delete ' + hook.name"
                  (click)="confirming.set(hook.id)"
                >
                  Delete
                </button>
              }
            </td>
          </tr>
          @if (log(); as log) {
            @if (log.webhookId === hook.id) {
              <tr class="log">
                <td colspan="5">
                  <table class="deliveries" [attr.aria-label]="'Deliveries of ' + hook.name">
                    <thead>
                      <tr>
                        <th scope="col">Created</th>
                        <th scope="col">Event</th>
                        <th scope="col">Status</th>
                        <th scope="col">Attempts</th>
                        <th scope="col">Last answer</th>
                        <th scope="col">Next attempt</th>
                      </tr>
                    </thead>
                    <tbody>
                      @for (d of log.items; track d.id) {
                        <tr [attr.data-delivery]="d.id">
                          <td>{{ d.createdAt | timestamp }}</td>
                          <td>{{ d.event }}</td>
                          <td [class.failed]="d.status === 'failed'">{{ d.status }}</td>
                          <td>{{ d.attempts }}</td>
                          <td>
                            {{ d.lastStatusCode !== null ? 'HTTP ' + d.lastStatusCode : ''
                            }}{{ d.lastError ? ' ' + d.lastError : '' }}
                          </td>
                          <td>{{ d.nextAttemptAt !== null ? (d.nextAttemptAt | timestamp) : '—' }}</td>
                        </tr>
                      } @empty {
                        <tr>
                          <td colspan="6" class="muted">{{ log.loading ? 'Loading…' : 'No deliveries yet.' }}</td>
                        </tr>
                      }
                    </tbody>
                  </table>
                  @if (log.error) {
                    <p class="banner error" role="alert">{{ log.error }}</p>
                  }
                  <button mat-button type="button" (click)="loadLog(hook.id, null)">Refresh</button>
                  @if (log.nextCursor) {
                    <button mat-button type="button" (click)="loadLog(hook.id, log.nextCursor)">Older</button>
                  }
                </td>
              </tr>
            }
          }
        } @empty {
          @if (!loading() && !error()) {
            <tr>
              <td colspan="5" class="muted">No webhooks.</td>
            </tr>
          }
        }
      </tbody>
    </table>
  `,
  styleUrls: ['./admin-page.scss', './webhooks.page.scss'],
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class WebhooksPage {
  private readonly api = inject(WebhooksApi);
  private readonly dialog = inject(MatDialog);
  private readonly clipboard = inject(Clipboard);
  private readonly destroyRef = inject(DestroyRef);

  protected readonly list = pageList(() => this.api.list(), 'the webhooks');
  protected readonly webhooks = this.list.items;
  protected readonly loading = this.list.loading;
  protected readonly error = this.list.error;
  protected readonly notice = signal<string | null>(null);
  protected readonly secret = signal<ShownSecret | null>(null);
  protected readonly copied = signal(false);
  protected readonly confirming = signal<string | null>(null);
  protected readonly log = signal<DeliveryLog | null>(null);

  constructor() {
    this.list.reload();
  }

  protected create(): void {
    this.notice.set(null);
    openWebhookDialog(this.dialog, null).subscribe((webhook) => {
      if (!webhook) return;
      if ('secret' in webhook) this.showSecret(webhook.name, webhook.secret);
      this.notice.set(`Created the webhook ${webhook.name}.`);
      this.list.reload();
    });
  }

  protected edit(webhook: WebhookView): void {
    this.notice.set(null);
    openWebhookDialog(this.dialog, webhook).subscribe((saved) => {
      if (!saved) return;
      this.notice.set(`Saved the webhook ${saved.name}.`);
      this.list.reload();
    });
  }

  protected rotate(webhook: WebhookView): void {
    this.notice.set(null);
    this.api
      .rotateSecret(webhook.id)
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe({
        next: (answer) => {
          this.showSecret(answer.name, answer.secret);
          this.notice.set(`Rotated the secret of ${answer.name}: the old one no longer signs.`);
        },
        error: (error: unknown) => this.error.set(`Could not rotate the secret: ${describeHttpError(error)}`),
      });
  }

  protected test(webhook: WebhookView): void {
    this.notice.set(null);
    this.api
      .test(webhook.id)
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe({
        next: (result) =>
          this.notice.set(
            result.delivered
              ? `The test ping to ${webhook.name} was delivered (HTTP ${result.statusCode}).`
              : `The test ping to ${webhook.name} failed: ${result.error ?? `HTTP ${result.statusCode}`}.`,
          ),
        error: (error: unknown) => this.error.set(`Could not send a test: ${describeHttpError(error)}`),
      });
  }

  protected remove(webhook: WebhookView): void {
    this.confirming.set(null);
    this.api
      .remove(webhook.id)
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe({
        next: () => {
          if (this.log()?.webhookId === webhook.id) this.log.set(null);
          this.notice.set(`Deleted the webhook ${webhook.name}.`);
          this.list.reload();
        },
        error: (error: unknown) => this.error.set(`Could not delete ${webhook.name}: ${describeHttpError(error)}`),
      });
  }

  protected toggleLog(webhook: WebhookView): void {
    if (this.log()?.webhookId === webhook.id) this.log.set(null);
    else this.loadLog(webhook.id, null);
  }

  protected loadLog(webhookId: string, cursor: string | null): void {
    const previous = this.log();
    const keep = cursor && previous?.webhookId === webhookId ? previous.items : [];
    this.log.set({ webhookId, items: keep, nextCursor: null, loading: true, error: null });
    this.api
      .deliveries(webhookId, undefined, cursor)
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe({
        next: (page) => {
          if (this.log()?.webhookId !== webhookId) return;
          this.log.set({
            webhookId,
            items: [...keep, ...page.items],
            nextCursor: page.nextCursor,
            loading: false,
            error: null,
          });
        },
        error: (error: unknown) => {
          if (this.log()?.webhookId !== webhookId) return;
          this.log.set({
            webhookId,
            items: keep,
            nextCursor: null,
            loading: false,
            error: `Could not load the deliveries: ${describeHttpError(error)}`,
          });
        },
      });
  }

  protected copy(text: string): void {
    this.copied.set(this.clipboard.copy(text));
  }

  private showSecret(name: string, secret: string): void {
    this.copied.set(false);
    this.secret.set({ name, secret });
  }
}
