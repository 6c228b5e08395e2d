import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import {
  AUDIT_DETAIL_MAX,
  type AuditEntry,
  type AuditFilter,
  type AuditRecord,
  AuditRepository,
} from '../../domain/audit';

/** Entries waiting to be written, at most; past it new ones are dropped (and counted in the log). */
export const MAX_QUEUED_AUDIT = 10_000;
/** How often entries past AUDIT_RETENTION_DAYS are deleted. */
export const AUDIT_PRUNE_EVERY_MS = 60 * 60_000;

/**
 * The audit log: who did what, and when. Entries are queued and written
 * together at the end of the event loop's turn, so recording costs a request
 * nothing it waits for; entries past AUDIT_RETENTION_DAYS are pruned hourly.
 */
@Injectable()
export class AuditService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AuditService.name);
  private queue: AuditEntry[] = [];
  private writing: Promise<void> = Promise.resolve();
  private scheduled = false;
  private dropped = 0;
  /** Entries handed to a write that has not finished (the database may be slow or down). */
  private writingEntries = 0;
  private pruner: NodeJS.Timeout | undefined;

  constructor(
    private readonly entries: AuditRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.pruner = setInterval(() => void this.prune(), AUDIT_PRUNE_EVERY_MS).unref();
    void this.prune();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.pruner);
    await this.flush();
  }

  /** Records an entry (`ts` now unless given); `detail` is cut to AUDIT_DETAIL_MAX characters. */
  record(entry: Omit<AuditEntry, 'ts'> & { ts?: number }): void {
    if (this.queue.length + this.writingEntries >= MAX_QUEUED_AUDIT) {
      if (this.dropped++ === 0) this.logger.error('the audit log cannot keep up: entries are being dropped');
      return;
    }
    const detail =
      entry.detail === null || entry.detail.length <= AUDIT_DETAIL_MAX
        ? entry.detail
        : `${entry.detail.slice(0, AUDIT_DETAIL_MAX - 1)}…`;
    this.queue.push({ ...entry, ts: entry.ts ?? Date.now(), detail });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Newest first; what was recorded before the call is in it. */
  async list(filter: AuditFilter): Promise<AuditRecord[]> {
    await this.flush();
    return this.entries.list(filter);
  }

  /** Writes what is queued, after what is being written. */
  flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.writingEntries += batch.length;
    this.writing = this.writing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.entries.append(batch);
      } catch (error) {
        this.logger.error(`writing ${batch.length} audit entries failed: ${String(error)}`);
      } finally {
        this.writingEntries -= batch.length;
      }
      if (this.dropped > 0) {
        this.logger.error(`${this.dropped} audit entries were dropped while the log could not keep up`);
        this.dropped = 0;
      }
    });
    return this.writing;
  }

  private async prune(): Promise<void> {
    try {
      await this.entries.prune(Date.now() - this.config.auditRetentionDays * 86_400_000);
    } catch (error) {
      this.logger.warn(`pruning the audit log failed: ${String(error)}`);
    }
  }
}
