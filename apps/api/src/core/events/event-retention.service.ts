import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { EventRepository } from '../../domain/events';

const INTERVAL_MS = 60_000;
const BATCH = 5_000;

/**
 * Prunes the event log past EVENT_RETENTION_HOURS, in small batches with a
 * yield between them, so ingest is never held up by a long delete.
 */
@Injectable()
export class EventRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventRetention.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly events: EventRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.runOnce(), INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Prunes everything past retention now; returns how many events went. */
  runOnce(now = Date.now()): Promise<number> {
    this.running ??= this.prune(now - this.config.eventRetentionMs).finally(() => (this.running = undefined));
    return this.running;
  }

  private async prune(before: number): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const removed = await this.events.prune(before, BATCH);
        total += removed;
        if (removed < BATCH) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      this.logger.error(`pruning the event log failed: ${String(error)}`);
    }
    if (total > 0) this.logger.debug(`pruned ${total} events`);
    return total;
  }
}
