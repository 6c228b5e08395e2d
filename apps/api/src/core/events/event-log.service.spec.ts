import { MetricsService } from '../../platform/metrics/metrics.service';
import type { ClusterChannel } from '../../domain/cluster';
import type { EventRepository, NewEvent, StoredEvent } from '../../domain/events';
import { strictFake } from '../../domain/testing';
import { EventBus } from './event-bus';
import { LogFeed } from './log-feed';
import { EventLog } from './event-log.service';

/** A storage whose commits complete when the test says so. */
class SlowStorage {
  readonly commits: Array<{ events: NewEvent[]; done: () => void; fail: (error: Error) => void }> = [];
  private seq = 0;
  private waiting: Array<() => void> = [];

  append(events: NewEvent[]): Promise<StoredEvent[]> {
    return new Promise((resolve, reject) => {
      this.commits.push({
        events,
        done: () => resolve(events.map((e) => ({ seq: ++this.seq, type: e.type, deviceId: e.deviceId, data: e.data }))),
        fail: reject,
      });
      this.waiting.splice(0).forEach((wake) => wake());
    });
  }

  /** The next commit the log starts. */
  async next(): Promise<{ events: NewEvent[]; done: () => void; fail: (error: Error) => void }> {
    while (this.commits.length === 0) await new Promise<void>((wake) => this.waiting.push(wake));
    return this.commits.shift()!;
  }
}

const event = (i: number): NewEvent => ({ type: 'telemetry', deviceId: 'd', ts: i, data: `{"n":${i}}` });
/** The number an event was made with, from its data (seqs count commits, not events). */
const numberOf = (e: { data: string }): number => (JSON.parse(e.data) as { n: number }).n;

describe('EventLog', () => {
  let storage: SlowStorage;
  let metrics: MetricsService;
  let log: EventLog;
  let bus: EventBus;

  beforeEach(() => {
    storage = new SlowStorage();
    metrics = new MetricsService();
    bus = new EventBus();
    const feed = new LogFeed(strictFake<EventRepository>({}, 'events'), bus, strictFake<ClusterChannel>({ shared: false }, 'cluster'));
    log = new EventLog(strictFake<EventRepository>({ append: (events) => storage.append(events) }, 'events'), metrics, feed);
  });

  afterEach(() => jest.useRealTimers());

  it('commits in order, at most 5,000 events a batch, and emits each batch on the bus', async () => {
    const seen: number[] = [];
    bus.on('committed', (events) => seen.push(...events.map((e) => e.seq)));
    for (let i = 0; i < 12_000; i++) log.append(event(i), 0);
    const sizes: number[] = [];
    for (let b = 0; b < 3; b++) {
      const commit = await storage.next();
      sizes.push(commit.events.length);
      commit.done();
    }
    await log.settled();
    expect(sizes).toEqual([5_000, 5_000, 2_000]);
    expect(seen).toEqual(Array.from({ length: 12_000 }, (_, i) => i + 1));
  });

  it('commits at once after a quiet spell, then gathers what arrives within the commit interval', async () => {
    jest.useFakeTimers();
    log.append(event(1), 0);
    await jest.advanceTimersByTimeAsync(0);
    expect(storage.commits.map((c) => c.events.length)).toEqual([1]);
    storage.commits.shift()?.done();
    await jest.advanceTimersByTimeAsync(0);

    // No time has passed since that commit began: the next waits out the interval, gathering both.
    log.append(event(2), 0);
    await jest.advanceTimersByTimeAsync(1);
    log.append(event(3), 0);
    expect(storage.commits).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(storage.commits.map((c) => c.events.map((e) => e.ts))).toEqual([[2, 3]]);
    storage.commits.shift()?.done();
    await jest.advanceTimersByTimeAsync(0);
  });

  it('gives storage the next batch while one is being written, at most two, and publishes them in order', async () => {
    const seen: number[] = [];
    bus.on('committed', (events) => seen.push(...events.map(numberOf)));
    log.append(event(1), 0);
    const first = await storage.next();
    log.append(event(2), 0);
    const second = await storage.next();
    log.append(event(3), 0);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(storage.commits).toHaveLength(0); // two in flight: event 3 waits

    second.done(); // stored first, but published only after the batch before it
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual([]);
    first.done();
    const third = await storage.next();
    expect(seen).toEqual([1, 2]);
    expect(third.events.map((e) => e.ts)).toEqual([3]);
    third.done();
    await log.settled();
    expect(seen).toEqual([1, 2, 3]);
  });

  it('puts a failed batch and the one given behind it back in order, ahead of newer events', async () => {
    jest.useFakeTimers();
    const seen: number[] = [];
    bus.on('committed', (events) => seen.push(...events.map(numberOf)));
    log.append(event(1), 0);
    await jest.advanceTimersByTimeAsync(0);
    log.append(event(2), 0);
    await jest.advanceTimersByTimeAsync(2);
    const [first, second] = storage.commits.splice(0);
    expect([first.events[0].ts, second.events[0].ts]).toEqual([1, 2]);
    // Storage fails the batch given behind a failed one (EventRepository.append).
    first.fail(new Error('disk I/O error'));
    second.fail(new Error('not stored: a batch before it failed'));
    log.append(event(3), 0);
    await jest.advanceTimersByTimeAsync(499);
    expect(storage.commits).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(10); // the retry wait ends
    expect(storage.commits.map((c) => c.events.map((e) => e.ts))).toEqual([[1, 2, 3]]);
    storage.commits.shift()?.done();
    await jest.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([1, 2, 3]);
    expect((await metrics.registry.getSingleMetric('iot_storage_errors_total')?.get())?.values[0].value).toBe(2);
  });

  it('waits out the retry pause even with a batch already scheduled when one fails', async () => {
    jest.useFakeTimers();
    log.append(event(1), 0);
    await jest.advanceTimersByTimeAsync(0);
    log.append(event(2), 0); // scheduled for the end of the commit interval
    storage.commits.shift()?.fail(new Error('disk I/O error'));
    await jest.advanceTimersByTimeAsync(499);
    expect(storage.commits).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(10);
    expect(storage.commits.map((c) => c.events.map((e) => e.ts))).toEqual([[1, 2]]);
    storage.commits.shift()?.done();
    await jest.advanceTimersByTimeAsync(0);
  });

  it('is congested past its high-water mark until the queue is back under the low-water mark', async () => {
    for (let i = 0; i < 19_999; i++) log.append(event(i), 0);
    expect(log.congested).toBe(false);
    log.append(event(19_999), 0);
    expect(log.congested).toBe(true);
    let drained = false;
    const wait = log.drained().then(() => (drained = true));

    // 20,000 queued: the first batch of 5,000 is being written, 15,000 wait.
    (await storage.next()).done();
    (await storage.next()).done(); // 10,000 wait
    (await storage.next()).done(); // 5,000 wait: at the low-water mark
    await wait;
    expect(drained).toBe(true);
    expect(log.congested).toBe(false);
    expect(await log.drained()).toBeUndefined();
    expect((await metrics.registry.getSingleMetric('iot_ingest_congested_total')?.get())?.values[0].value).toBe(1);
    (await storage.next()).done();
    await log.settled();
  });

  it('keeps a batch that failed, ahead of later events, and retries it', async () => {
    jest.useFakeTimers();
    const seen: number[] = [];
    bus.on('committed', (events) => seen.push(...events.map((e) => e.seq)));
    log.append(event(1), 0);
    await jest.advanceTimersByTimeAsync(0);
    storage.commits.shift()?.fail(new Error('disk I/O error'));
    await jest.advanceTimersByTimeAsync(0);
    log.append(event(2), 0);
    await jest.advanceTimersByTimeAsync(499);
    expect(storage.commits).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1); // the retry wait ends
    await jest.advanceTimersByTimeAsync(2); // and the next commit starts, the commit interval after the last
    expect(storage.commits.map((c) => c.events.map((e) => e.ts))).toEqual([[1, 2]]);
    storage.commits.shift()?.done();
    await jest.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([1, 2]);
    expect((await metrics.registry.getSingleMetric('iot_storage_errors_total')?.get())?.values[0].value).toBe(1);
  });

  describe('afterCommit', () => {
    it('calls back once everything appended before it is committed, not waiting for what came after', async () => {
      const order: string[] = [];
      log.afterCommit(() => order.push('nothing to wait for'));
      log.append(event(1), 0);
      log.afterCommit(() => order.push('after 1'));
      const first = await storage.next();
      log.append(event(2), 0);
      log.afterCommit(() => order.push('after 2'));
      const second = await storage.next();
      log.append(event(3), 0);
      expect(order).toEqual(['nothing to wait for']);

      second.done(); // committed, but event 1 is not yet
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(order).toEqual(['nothing to wait for']);
      first.done();
      const third = await storage.next();
      expect(order).toEqual(['nothing to wait for', 'after 1', 'after 2']);
      third.done();
      await log.settled();
      log.afterCommit(() => order.push('idle'));
      expect(order).toEqual(['nothing to wait for', 'after 1', 'after 2', 'idle']);
    });

    it('waits through a failed commit for the retry that stores the events', async () => {
      jest.useFakeTimers();
      const called: number[] = [];
      log.append(event(1), 0);
      log.afterCommit(() => called.push(1));
      await jest.advanceTimersByTimeAsync(0);
      log.append(event(2), 0);
      log.afterCommit(() => called.push(2));
      await jest.advanceTimersByTimeAsync(2);
      const [first, second] = storage.commits.splice(0);
      first.fail(new Error('disk I/O error'));
      second.done(); // stored although the batch before it failed
      await jest.advanceTimersByTimeAsync(0);
      expect(called).toEqual([]); // event 1 is not stored: neither waiter may go
      await jest.advanceTimersByTimeAsync(510);
      expect(storage.commits.map((c) => c.events.map((e) => e.ts))).toEqual([[1]]);
      log.append(event(3), 0);
      log.afterCommit(() => called.push(3));
      storage.commits.shift()?.done();
      await jest.advanceTimersByTimeAsync(0);
      expect(called).toEqual([1, 2]);
      await jest.advanceTimersByTimeAsync(2);
      storage.commits.shift()?.done();
      await jest.advanceTimersByTimeAsync(0);
      expect(called).toEqual([1, 2, 3]);
    });
  });
});
