import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Logger } from '@nestjs/common';
import type { AppConfig } from '../../../platform/config/config';
import { EventBus } from '../../../core/events/event-bus';
import type { EventLog } from '../../../core/events/event-log.service';
import { MetricsService } from '../../../platform/metrics/metrics.service';
import type { StoredEvent } from '../../../domain/events';
import { formatEventId } from './event-id';
import { StreamHub } from './stream-hub.service';

const noop = () => undefined;

/** The part of a ServerResponse the hub uses; `writableLength` is set by the test as a socket would. */
class FakeResponse extends EventEmitter {
  readonly chunks: Buffer[] = [];
  writableLength = 0;
  destroyed = false;
  writeHead(): this {
    return this;
  }
  flushHeaders = noop;
  cork = noop;
  uncork = noop;
  end = noop;
  write(chunk: Buffer | string): boolean {
    const bytes = Buffer.from(chunk);
    this.chunks.push(bytes);
    this.writableLength += bytes.length;
    return true;
  }
  /** The socket sent everything. */
  drain(): void {
    this.writableLength = 0;
    this.emit('drain');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

const EPOCH = 'ep';
const event = (seq: number, data = '{}'): StoredEvent => ({ seq, type: 'telemetry', deviceId: 'd', data });

describe('StreamHub', () => {
  let commit: (events: StoredEvent[], receivedAt: number[]) => void;
  let reads: Array<{ after: number; resolve: (page: StoredEvent[]) => void }>;
  let last: number;
  let metrics: MetricsService;
  let sut: StreamHub;

  // Drops are logged at debug; each test file has its own module registry, so this stays here.
  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(() => {
    reads = [];
    last = 10;
    metrics = new MetricsService();
    const log = {
      epoch: EPOCH,
      bounds: () => Promise.resolve({ prunedThrough: 0, last }),
      eventsAfter: (after: number) => new Promise<StoredEvent[]>((resolve) => reads.push({ after, resolve })),
    } as unknown as EventLog;
    const bus = new EventBus();
    commit = (events, receivedAt) => bus.emit('committed', events, receivedAt);
    const config = { sseMaxQueuedBytes: 1000, sseMaxStreams: 100, sseMaxStreamsPerUser: 100 } as AppConfig;
    sut = new StreamHub(config, metrics, log, bus);
  });

  const open = (lastEventId?: string) => {
    const res = new FakeResponse();
    const opened = sut.open(res as unknown as ServerResponse, { username: 'u', lastEventId });
    return { res, opened };
  };
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('lets at most four resuming streams read the log at once', async () => {
    const streams = Array.from({ length: 6 }, () => open(formatEventId(EPOCH, 1)));
    await settle();
    expect(reads).toHaveLength(4);
    reads[0].resolve([]);
    await settle();
    expect(reads).toHaveLength(5);
    for (const read of reads.slice(1)) read.resolve([]);
    await settle();
    reads[5].resolve([]);
    await Promise.all(streams.map((s) => s.opened));
  });

  it('reads the next page only once the socket has drained', async () => {
    const { res } = open(formatEventId(EPOCH, 0));
    await settle();
    // A full page (by bytes) of large events fills the socket past 64 KiB.
    const big = 'x'.repeat(300 * 1024);
    reads[0].resolve([event(1, `"${big}"`)]);
    await settle();
    expect(reads).toHaveLength(1);
    res.drain();
    await settle();
    expect(reads).toHaveLength(2);
    expect(reads[1].after).toBe(1);
    reads[1].resolve([]);
    await settle();
    expect(res.text()).toContain(`id: ${formatEventId(EPOCH, 1)}\n`);
  });

  it('sends a frame larger than the bound to a socket under it, and drops a socket already over it', async () => {
    const { res, opened } = open();
    await opened;
    const large = event(11, `"${'y'.repeat(5000)}"`);
    commit([large], [Date.now()]);
    expect(res.destroyed).toBe(false);
    expect(res.text()).toContain('y'.repeat(5000));
    commit([event(12)], [Date.now()]);
    expect(res.destroyed).toBe(true);
    expect(sut.size).toBe(0);
  });

  it('drops a resuming stream that does not read once the live events held for it pass the bound', async () => {
    const { res } = open(formatEventId(EPOCH, 1));
    await settle();
    commit([event(11, `"${'z'.repeat(1500)}"`)], [Date.now()]);
    expect(res.destroyed).toBe(false);
    commit([event(12)], [Date.now()]);
    expect(res.destroyed).toBe(true);
    reads[0].resolve([]);
    await settle();
    expect(reads).toHaveLength(1);
  });

  it('refuses a stream past the per-user cap with 429 and frees the place when one closes', async () => {
    sut = new StreamHub(
      { sseMaxQueuedBytes: 1000, sseMaxStreams: 100, sseMaxStreamsPerUser: 2 } as AppConfig,
      metrics,
      { epoch: EPOCH, bounds: () => Promise.resolve({ prunedThrough: 0, last: 0 }) } as unknown as EventLog,
      new EventBus(),
    );
    const first = open();
    await open().opened;
    await expect(open().opened).rejects.toMatchObject({ status: 429 });
    expect(sut.refusal('someone-else')).toBeUndefined();
    first.res.destroy();
    expect(sut.refusal('u')).toBeUndefined();
  });
});
