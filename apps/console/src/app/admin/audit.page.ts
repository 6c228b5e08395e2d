import { ChangeDetectionStrategy, Component, computed, DestroyRef, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { MatButton } from '@angular/material/button';
import { MatFormField, MatLabel } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { MatProgressBar } from '@angular/material/progress-bar';
import { RouterLink } from '@angular/router';
import type { AuditEntryView } from '@iot/protocol';
import type { Subscription } from 'rxjs';
import { type AuditFilter, AuditApi, NO_AUDIT_FILTER } from '../core/audit/audit-api';
import { describeHttpError } from '../core/http-error';
import { TimestampPipe } from '../ui/format.pipes';

/** Audit actions whose target is a bulk, shown on its own page. */
const BULK_ACTIONS = new Set(['command.bulk', 'state.bulk']);

/** The bulk page of an entry that made a bulk (its outcome `ok`), or null. */
export function bulkLink(entry: AuditEntryView): string[] | null {
  return BULK_ACTIONS.has(entry.action) && entry.outcome === 'ok' && entry.target ? ['/bulk', entry.target] : null;
}

/** At most this many entries are kept on screen; "Load more" stops there. */
export const MAX_AUDIT_ROWS = 10_000;

/** A `datetime-local` value (this browser's time zone) as epoch ms, or null when empty or not a time. */
export function parseLocalTime(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) && ms >= 0 ? ms : null;
}

/**
 * The audit log (admin): newest first, filtered by actor, action, target and
 * time, paged by the api's cursor. "Export CSV" downloads the filtered view
 * from the api (`format=csv`: the newest 1000 entries that match).
 */
@Component({
  selector: 'iot-audit-page',
  imports: [MatButton, MatFormField, MatLabel, MatInput, MatProgressBar, RouterLink, TimestampPipe],
  template: `
    <header class="header">
      <h1 class="title" id="audit-title">Audit log</h1>
      <span class="spacer"></span>
      <a mat-button class="export" [href]="csvUrl()" download="audit.csv">Export CSV</a>
    </header>
    <form class="filters" novalidate aria-label="Filters" (submit)="apply($event)">
      @for (field of textFields; track field.key) {
        <mat-form-field appearance="outline" subscriptSizing="dynamic">
          <mat-label>{{ field.label }}</mat-label>
          <input matInput [name]="field.key" autocomplete="off" spellcheck="false" [attr.maxlength]="field.max" />
        </mat-form-field>
      }
      <mat-form-field appearance="outline" subscriptSizing="dynamic">
        <mat-label>From</mat-label>
        <input matInput name="from" type="datetime-local" />
      </mat-form-field>
      <mat-form-field appearance="outline" subscriptSizing="dynamic">
        <mat-label>To</mat-label>
        <input matInput name="to" type="datetime-local" />
      </mat-form-field>
      <button mat-flat-button type="submit">Apply</button>
      <button mat-button type="reset" (click)="clear()">Clear</button>
    </form>
    @if (loading()) {
      <mat-progress-bar mode="indeterminate" aria-label="Loading the audit log" />
    }
    @if (error(); as message) {
      <div class="banner error" role="alert">Could not load the audit log: {{ message }}</div>
    }
    <table aria-labelledby="audit-title">
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Target</th>
          <th scope="col">Outcome</th>
          <th scope="col">Address</th>
          <th scope="col">Detail</th>
        </tr>
      </thead>
      <tbody>
        @for (entry of entries(); track entry.id) {
          <tr>
            <td>
              <time [attr.datetime]="iso(entry.ts)">{{ entry.ts | timestamp }}</time>
            </td>
            <td>{{ entry.actor ?? '—' }}</td>
            <td class="mono">{{ entry.action }}</td>
            @if (bulkLink(entry); as link) {
              <td><a [routerLink]="link" title="Each device's outcome">{{ entry.target }}</a></td>
            } @else {
              <td>{{ entry.target ?? '—' }}</td>
            }
            <td [class]="'outcome-' + entry.outcome">{{ entry.outcome }}</td>
            <td class="mono">{{ entry.address ?? '—' }}</td>
            <td>{{ entry.detail ?? '' }}</td>
          </tr>
        } @empty {
          @if (!loading() && !error()) {
            <tr>
              <td colspan="7" class="muted">No entries match.</td>
            </tr>
          }
        }
      </tbody>
    </table>
    @if (nextCursor() && entries().length < maxRows) {
      <div class="more">
        <button mat-button type="button" [disabled]="loading()" (click)="loadMore()">Load more</button>
      </div>
    }
  `,
  styleUrl: './admin-page.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class AuditPage {
  private readonly api = inject(AuditApi);
  private readonly destroyRef = inject(DestroyRef);
  private load: Subscription | undefined;

  protected readonly maxRows = MAX_AUDIT_ROWS;
  protected readonly bulkLink = bulkLink;
  protected readonly textFields = [
    { key: 'actor', label: 'Actor', max: 256 },
    { key: 'action', label: 'Action', max: 64 },
    { key: 'target', label: 'Target', max: 256 },
  ] as const;
  protected readonly filter = signal<AuditFilter>(NO_AUDIT_FILTER);
  protected readonly entries = signal<readonly AuditEntryView[]>([]);
  protected readonly nextCursor = signal<string | null>(null);
  protected readonly loading = signal(false);
  protected readonly error = signal<string | null>(null);
  /** The export follows the filter applied (not what is typed but not yet applied). */
  protected readonly csvUrl = computed(() => this.api.csvUrl(this.filter()));

  constructor() {
    this.destroyRef.onDestroy(() => this.load?.unsubscribe());
    this.fetch(null);
  }

  protected apply(event: Event): void {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? '';
    this.filter.set({
      actor: value('actor'),
      action: value('action'),
      target: value('target'),
      from: parseLocalTime(value('from')),
      to: parseLocalTime(value('to')),
    });
    this.fetch(null);
  }

  protected clear(): void {
    this.filter.set(NO_AUDIT_FILTER);
    this.fetch(null);
  }

  protected loadMore(): void {
    const cursor = this.nextCursor();
    if (cursor && !this.loading()) this.fetch(cursor);
  }

  protected iso(ts: number): string {
    return new Date(ts).toISOString();
  }

  /** A first page (cursor null) replaces what is shown; a later one is appended. */
  private fetch(cursor: string | null): void {
    this.load?.unsubscribe();
    this.loading.set(true);
    this.error.set(null);
    if (!cursor) {
      this.entries.set([]);
      this.nextCursor.set(null);
    }
    this.load = this.api
      .list(this.filter(), cursor)
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe({
        next: (page) => {
          this.loading.set(false);
          const seen = new Set(this.entries().map((e) => e.id));
          const fresh = page.items.filter((e) => !seen.has(e.id));
          this.entries.update((all) => all.concat(fresh).slice(0, MAX_AUDIT_ROWS));
          // A page with nothing new would repeat forever: stop there.
          this.nextCursor.set(fresh.length > 0 ? page.nextCursor : null);
        },
        error: (error: unknown) => {
          this.loading.set(false);
          this.error.set(describeHttpError(error));
        },
      });
  }
}
