import { Logger } from '@nestjs/common';
import type { ClusterChannel } from '../../domain/cluster';
import type { EventRepository, StoredEvent } from '../../domain/events';
import { strictFake } from '../../domain/testing';
import { EventBus } from './event-bus';
import { LogFeed } from './log-feed';

const event = (seq: number): StoredEvent => ({ seq, type: 'telemetry', deviceId: 'd', data: `{"n":${seq}}` });
const range = (from: number, to: number): StoredEvent[] => Array.from({ length: to - from + 1 }, (_, i) => event(from + i));

describe('LogFeed', () => {
  /** The shared log as stored: what `eventsAfter` reads. */
  let log: StoredEvent[];
  let reads: number[];
  let seen: number[];
  let times: number[][];
  let appendedCalls: number;
  let failNext: boolean;
  let bus: EventBus;

  beforeAll(() => Logger.overrideLogger(false));

  function make(shared: boolean, last = 0): LogFeed {
    const events = strictFake<EventRepository>(
      {
        bounds: async () => ({ prunedThrough: 0, last }),
        eventsAfter: async (seq, _filter, limit) => {
          reads.push(seq);
          if (failNext) {
            failNext = false;
            throw new Error('PostgreSQL does not answer');
          }
          return log.filter((e) => e.seq > seq).slice(0, limit);
        },
      },
      'events',
    );
    const cluster = strictFake<ClusterChannel>({ shared, appended: () => void appendedCalls++ }, 'cluster');
    return new LogFeed(events, bus, cluster);
  }

  beforeEach(() => {
    log = [];
    reads = [];
    seen = [];
    times = [];
    appendedCalls = 0;
    failNext = false;
    bus = new EventBus();
    bus.on('committed', (events, receivedAt) => {
      seen.push(...events.map((e) => e.seq));
      times.push(receivedAt);
    });
  });

  it('alone, puts each committed batch on the bus as it is, reading nothing', async () => {
    const sut = make(false);
    await sut.onModuleInit();
    sut.committed(range(5, 6), [1, 2]);
    expect(seen).toEqual([5, 6]);
    expect(times).toEqual([[1, 2]]);
    expect([reads, appendedCalls]).toEqual([[], 0]);
    await sut.onApplicationShutdown();
  });

  it('with replicas, sends its own batch at once when it follows the last seq on the bus, and tells the others', async () => {
    const sut = make(true, 10);
    await sut.onModuleInit();
    sut.committed(range(11, 12), [1, 2]);
    expect(seen).toEqual([11, 12]);
    expect(times).toEqual([[1, 2]]);
    expect(reads).toEqual([]);
    expect(appendedCalls).toBe(1);
    await sut.onApplicationShutdown();
  });

  it("reads the log when another replica's events came between, and puts them all on the bus in seq order, once", async () => {
    const sut = make(true, 10);
    await sut.onModuleInit();
    // 11 and 12 are another replica's; 13 is this one's.
    log = range(11, 13);
    sut.committed([event(13)], [7]);
    expect(seen).toEqual([]);
    await sut.onApplicationShutdown();
    expect(seen).toEqual([11, 12, 13]);
    expect(times).toEqual([[]]);
    // A notification for what is on the bus already reads nothing new.
    sut.catchUp();
    await sut.onApplicationShutdown();
    expect(seen).toEqual([11, 12, 13]);
    expect(reads).toEqual([10, 13, 13]);
  });

  it('runs one read at a time and reads again for what was told meanwhile', async () => {
    const sut = make(true, 0);
    await sut.onModuleInit();
    log = range(1, 2);
    sut.catchUp();
    sut.catchUp();
    sut.catchUp();
    log = range(1, 3);
    await sut.onApplicationShutdown();
    await sut.onApplicationShutdown();
    expect(seen).toEqual([1, 2, 3]);
    // The first read pages until the log has nothing more, then one more read for the calls made while it ran.
    expect(reads).toEqual([0, 2, 3, 3]);
  });

  it('reads a long backlog in pages of 1,000, in order', async () => {
    const sut = make(true, 0);
    await sut.onModuleInit();
    log = range(1, 2_500);
    sut.catchUp();
    await sut.onApplicationShutdown();
    expect(seen).toEqual(range(1, 2_500).map((e) => e.seq));
    expect(reads).toEqual([0, 1_000, 2_000, 2_500]);
  });

  it('keeps its place when a read fails, and reads from there next time', async () => {
    const sut = make(true, 4);
    await sut.onModuleInit();
    log = range(5, 6);
    failNext = true;
    sut.catchUp();
    await sut.onApplicationShutdown();
    expect(seen).toEqual([]);
    sut.catchUp();
    await sut.onApplicationShutdown();
    expect(seen).toEqual([5, 6]);
    expect(reads).toEqual([4, 4, 6]);
  });
});
