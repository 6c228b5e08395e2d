import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Logger } from '@nestjs/common';
import { STREAM_HEARTBEAT_MS } from '@iot/protocol';
import type { AppConfig } from '../../../platform/config/config';
import { DeviceAccess } from '../../../core/auth/device-access';
import { EventBus } from '../../../core/events/event-bus';
import type { EventLog } from '../../../core/events/event-log.service';
import { MetricsService } from '../../../platform/metrics/metrics.service';
import type { EventFilter, StoredEvent } from '../../../domain/events';
import { formatEventId } from './event-id';
import { StreamHub } from './stream-hub.service';
import type { StreamFilters } from './stream-query';

const noop = () => undefined;

/** The part of a socket the hub uses; `writableLength` is set by the test as a socket would. */
class FakeSocket extends EventEmitter {
  readonly chunks: Buffer[] = [];
  writableLength = 0;
  destroyed = false;
  ended = false;
  setNoDelay = noop;
  setTimeout = noop;
  setKeepAlive = noop;
  cork = noop;
  uncork = noop;
  end(chunk?: Buffer | (() => void)): void {
    if (Buffer.isBuffer(chunk)) this.write(chunk);
    this.ended = true;
  }
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

/** The part of a ServerResponse the hub uses before it takes the socket over; HTTP/1.0 (a bare body) unless chunked. */
class FakeResponse {
  readonly socket = new FakeSocket();
  constructor(readonly chunkedEncoding = false) {}
  writeHead(): this {
    return this;
  }
  flushHeaders = noop;
  cork = noop;
  uncork = noop;
  detachSocket = noop;
  write(chunk: Buffer | string): boolean {
    return this.socket.write(chunk);
  }
}

const EPOCH = 'ep';
const event = (seq: number, data = '{}'): StoredEvent => ({ seq, type: 'telemetry', deviceId: 'd', data });

describe('StreamHub', () => {
  let commit: (events: StoredEvent[], receivedAt: number[]) => void;
  let reads: Array<{
    after: number;
    filter: EventFilter;
    limit: number;
    maxBytes?: number;
    resolve: (page: StoredEvent[]) => void;
  }>;
  let last: number;
  let pruned: number;
  let metrics: MetricsService;
  let access: DeviceAccess;
  let sut: StreamHub;

  // Drops are logged at debug; each test file has its own module registry, so this stays here.
  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(() => {
    reads = [];
    last = 10;
    pruned = 0;
    metrics = new MetricsService();
    const log = {
      epoch: EPOCH,
      bounds: () => Promise.resolve({ prunedThrough: pruned, last }),
      eventsAfter: (after: number, filter: EventFilter, limit: number, maxBytes?: number) =>
        new Promise<StoredEvent[]>((resolve) => reads.push({ after, filter, limit, maxBytes, resolve })),
    } as unknown as EventLog;
    const bus = new EventBus();
    commit = (events, receivedAt) => bus.emit('committed', events, receivedAt);
    const config = { sseMaxQueuedBytes: 1000, sseMaxStreams: 100, sseMaxStreamsPerUser: 100 } as AppConfig;
    access = new DeviceAccess();
    sut = new StreamHub(config, metrics, log, access, bus);
  });

  const open = (lastEventId?: string, filters: StreamFilters = {}) => {
    const response = new FakeResponse();
    const opened = sut.open(response as unknown as ServerResponse, { username: 'u', lastEventId, ...filters });
    return { res: response.socket, opened };
  };
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  describe('for a user with a scope', () => {
    const at = (seq: number, deviceId: string): StoredEvent => ({ seq, type: 'telemetry', deviceId, data: '{}' });
    const scope = new Map([['site', 'a']]);
    const openScoped = (lastEventId?: string) => {
      const response = new FakeResponse();
      const opened = sut.open(response as unknown as ServerResponse, { username: 'u', lastEventId, scope });
      return { res: response.socket, opened };
    };

    beforeEach(() => {
      access.load([
        { id: 'in', labels: { site: 'a' } },
        { id: 'out', labels: { site: 'b' } },
      ]);
    });

    it('writes live events of devices in the scope only, and stops once a device is relabelled out of it', async () => {
      const { res, opened } = openScoped();
      await opened;
      commit([at(11, 'in'), at(12, 'out'), at(13, 'unknown')], [1, 1, 1]);
      access.set('in', { site: 'b' });
      commit([at(14, 'in')], [1]);
      access.set('out', { site: 'a' });
      commit([at(15, 'out')], [1]);
      const ids = [...res.text().matchAll(/^id: \S+-(\d+)$/gm)].map((m) => Number(m[1]));
      expect(ids).toEqual([11, 15]);
    });

    it('replays from the log only the events of devices in the scope', async () => {
      const { res, opened } = openScoped(formatEventId(EPOCH, 1));
      await settle();
      reads[0].resolve([at(2, 'out'), at(3, 'in'), at(4, 'out')]);
      await opened;
      commit([at(11, 'out'), at(12, 'in')], [1, 1]);
      const ids = [...res.text().matchAll(/^id: \S+-(\d+)$/gm)].map((m) => Number(m[1]));
      expect(ids).toEqual([3, 12]);
    });
  });

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
      new DeviceAccess(),
      new EventBus(),
    );
    const first = open();
    await open().opened;
    await expect(open().opened).rejects.toMatchObject({ status: 429 });
    expect(sut.refusal('someone-else')).toBeUndefined();
    first.res.destroy();
    expect(sut.refusal('u')).toBeUndefined();
  });

  it('writes an HTTP/1.1 stream as chunks: each batch, the heartbeat, and the last chunk when its session ends', async () => {
    jest.useFakeTimers();
    try {
      await sut.onApplicationBootstrap();
      const response = new FakeResponse(true);
      await sut.open(response as unknown as ServerResponse, { username: 'u', sessionId: 's1' });
      const res = response.socket;
      res.chunks.length = 0;

      commit([event(11)], [Date.now()]);
      jest.advanceTimersByTime(STREAM_HEARTBEAT_MS);
      sut.closeSessions(new Set(['s1']));

      const frame = `id: ${formatEventId(EPOCH, 11)}\nevent: telemetry\ndata: {}\n\n`;
      expect(res.text()).toBe(`${frame.length.toString(16)}\r\n${frame}\r\n3\r\n:\n\n\r\n0\r\n\r\n`);
      expect(res.ended).toBe(true);
      expect(sut.size).toBe(0);
    } finally {
      sut.beforeApplicationShutdown();
      jest.useRealTimers();
    }
  });

  describe('resume', () => {
    /** The seqs of the events the stream was sent, in order (a reset's id included). */
    const sentSeqs = (res: FakeSocket) => [...res.text().matchAll(/^id: ep-(\d+)$/gm)].map((m) => Number(m[1]));
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

    it('replays the log after the id, a page at a time, then live events follow with no gap and no duplicate', async () => {
      last = 2_000;
      const { res, opened } = open(formatEventId(EPOCH, 3));
      await settle();
      expect(reads.map(({ after, limit, maxBytes }) => ({ after, limit, maxBytes }))).toEqual([
        { after: 3, limit: 1_000, maxBytes: 256 * 1024 },
      ]);

      // Live events committed meanwhile wait; a full page means there is more to read.
      commit([event(1_004), event(1_005)], [Date.now(), Date.now()]);
      reads[0].resolve(range(4, 1_003).map((seq) => event(seq)));
      await settle();
      res.drain();
      await settle();
      expect(reads[1]?.after).toBe(1_003);
      commit([event(1_006)], [Date.now()]);
      // The log already holds the events committed while the first page was read.
      reads[1].resolve([event(1_004), event(1_005)]);
      await opened;
      expect(reads).toHaveLength(2);

      commit([event(1_007)], [Date.now()]);
      expect(sentSeqs(res)).toEqual(range(4, 1_007));
    });

    it.each<[string, string, string]>([
      ['of another epoch', formatEventId('other', 5), 'unknown event id'],
      ['that is not an event id', 'nonsense', 'unknown event id'],
      ['older than the pruned bound', formatEventId(EPOCH, 3), 'event id too old'],
      ['past the newest event', formatEventId(EPOCH, 11), 'event id from the future'],
    ])('sends a reset at the head for an id %s, then live events', async (_, lastEventId, reason) => {
      pruned = 4;
      const { res, opened } = open(lastEventId);
      await opened;

      commit([event(10), event(11)], [Date.now(), Date.now()]);
      expect(reads).toEqual([]);
      expect(res.text()).toContain(`id: ep-10\nevent: reset\ndata: ${JSON.stringify({ reason })}\n\n`);
      expect(sentSeqs(res)).toEqual([10, 11]);
    });

    it('replays from an id at the pruned bound: the events after it are all there', async () => {
      pruned = 4;
      const { res, opened } = open(formatEventId(EPOCH, 4));
      await settle();
      reads[0].resolve([event(5)]);
      await opened;
      expect(reads.map((r) => r.after)).toEqual([4]);
      expect(res.text()).not.toContain('event: reset');
      expect(sentSeqs(res)).toEqual([5]);
    });

    it('applies device and type filters to the replay and to live events', async () => {
      const deviceIds = new Set(['a']);
      const types = new Set(['status'] as const);
      const { res, opened } = open(formatEventId(EPOCH, 2), { deviceIds, types });
      const of = (seq: number, type: StoredEvent['type'], deviceId: string): StoredEvent => ({
        seq,
        type,
        deviceId,
        data: '{}',
      });
      await settle();
      expect(reads[0].filter).toEqual({ deviceIds, types });

      // Held during the replay, then filtered as they go out.
      commit([of(11, 'status', 'a'), of(12, 'telemetry', 'a'), of(13, 'status', 'b')], [0, 0, 0]);
      reads[0].resolve([of(7, 'status', 'a')]);
      await opened;
      commit([of(14, 'telemetry', 'a'), of(15, 'status', 'a'), of(16, 'status', 'b')], [0, 0, 0]);

      expect(sentSeqs(res)).toEqual([7, 11, 15]);
    });
  });
});
