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
    const cluster = strictFake<ClusterChannel>({ shared }, 'cluster');
    return new LogFeed(events, bus, cluster);
  }

  beforeEach(() => {
    log = [];
    reads = [];
    seen = [];
    times = [];
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
    expect(reads).toEqual([]);
    await sut.onApplicationShutdown();
  });

  it('with replicas, sends its own batch at once when it follows the last seq on the bus', async () => {
    const sut = make(true, 10);
    await sut.onModuleInit();
    sut.committed(range(11, 12), [1, 2]);
    expect(seen).toEqual([11, 12]);
    expect(times).toEqual([[1, 2]]);
    // Its own announcement, heard after, adds nothing.
    sut.appended({ after: 10, events: range(11, 12) });
    expect(seen).toEqual([11, 12]);
    expect(reads).toEqual([]);
    await sut.onApplicationShutdown();
  });

  it("holds its own batch until another replica's batch before it is announced, then sends both in order, reading nothing", async () => {
    const sut = make(true, 10);
    await sut.onModuleInit();
    sut.committed([event(13)], [7]);
    expect(seen).toEqual([]);
    sut.appended({ after: 10, events: range(11, 12) });
    expect(seen).toEqual([11, 12, 13]);
    expect(times).toEqual([[], [7]]);
    expect(reads).toEqual([]);
    await sut.onApplicationShutdown();
  });

  it('reads the log when an announcement carries no events, and puts them all on the bus in seq order, once', async () => {
    const sut = make(true, 10);
    await sut.onModuleInit();
    // 11 and 12 are another replica's, too many to announce; 13 is this one's.
    log = range(11, 13);
    sut.committed([event(13)], [7]);
    sut.appended();
    await sut.onApplicationShutdown();
    expect(seen).toEqual([11, 12, 13]);
    // A late announcement of what is on the bus already adds nothing.
    sut.appended({ after: 11, events: range(12, 13) });
    sut.catchUp();
    await sut.onApplicationShutdown();
    expect(seen).toEqual([11, 12, 13]);
    expect(reads).toEqual([10, 13, 13]);
  });

  it('reads the log when a gap before a held batch lasts 20 ms', async () => {
    jest.useFakeTimers();
    try {
      const sut = make(true, 10);
      await sut.onModuleInit();
      log = range(11, 14);
      sut.appended({ after: 12, events: range(13, 14) });
      jest.advanceTimersByTime(19);
      expect(reads).toEqual([]);
      jest.advanceTimersByTime(1);
      await sut.onApplicationShutdown();
      expect(seen).toEqual([11, 12, 13, 14]);
      expect(reads).toEqual([10, 14]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('puts on the bus only the part of a held batch that a read did not bring', async () => {
    const sut = make(true, 10);
    await sut.onModuleInit();
    log = range(11, 12);
    sut.catchUp();
    // Announced while the read runs, which stops at 12: 13 and 14 come from the announcement.
    sut.appended({ after: 11, events: range(12, 14) });
    await sut.onApplicationShutdown();
    expect(seen).toEqual([11, 12, 13, 14]);
    expect(reads).toEqual([10, 12]);
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
