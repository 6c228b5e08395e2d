import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { type PruneCursor, TelemetryRepository, type TelemetryTier } from '../../domain/telemetry';

const INTERVAL_MS = 60_000;
/**
 * Rows per transaction: a few milliseconds, so an ingest batch never waits
 * long behind one. A raw row is a whole message (often ten values or more),
 * a rollup row one value's bucket.
 */
const BATCH: Record<TelemetryTier, number> = { raw: 250, minute: 2_000, hour: 2_000 };

export type PruneCounts = Record<TelemetryTier, number>;

/**
 * Prunes raw telemetry past TELEMETRY_RETENTION and the per-minute and
 * per-hour rollups past ROLLUP_RETENTION, once a minute, in small
 * transactions with a yield to the event loop between them. The store runs
 * them where ingest batches are written (SQLite: the writer thread), so
 * ingest gets its turn after every step.
 */
@Injectable()
export class TelemetryRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TelemetryRetention.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PruneCounts> | undefined;
  private stopping = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly telemetry: TelemetryRepository,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.telemetryRetentionMs === 0 && this.config.rollupRetentionMs === 0) return;
    this.timer = setInterval(() => void this.runOnce(), INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Prunes everything past retention as of `now`; returns how many rows went per tier. */
  runOnce(now = Date.now()): Promise<PruneCounts> {
    this.running ??= this.prune(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async prune(now: number): Promise<PruneCounts> {
    const counts: PruneCounts = { raw: 0, minute: 0, hour: 0 };
    const { telemetryRetentionMs: raw, rollupRetentionMs: rollups } = this.config;
    const plan: Array<[TelemetryTier, number]> = [];
    if (raw > 0) plan.push(['raw', raw]);
    if (rollups > 0) plan.push(['minute', rollups], ['hour', rollups]);
    for (const [tier, keepMs] of plan) {
      try {
        let start: PruneCursor | undefined;
        for (;;) {
          const result = await this.telemetry.prune(tier, now - keepMs, BATCH[tier], start);
          counts[tier] += result.removed;
          start = result.next;
          if (!result.more || this.stopping) break;
          await new Promise((resolve) => setImmediate(resolve));
        }
      } catch (error) {
        this.logger.error(`pruning ${tier} telemetry failed: ${String(error)}`);
      }
    }
    if (counts.raw + counts.minute + counts.hour > 0) {
      this.logger.debug(`pruned ${counts.raw} raw, ${counts.minute} per-minute and ${counts.hour} per-hour rows`);
    }
    return counts;
  }
}
