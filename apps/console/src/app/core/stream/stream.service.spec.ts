import { TestBed } from '@angular/core/testing';
import { WINDOW } from '../browser';
import { type FakeEventSource, fakeEventSources } from '../testing/fake-event-source';
import { EVENT_SOURCE_FACTORY } from './event-source';
import { RESYNC_REASON, type StreamMessage, StreamService, STREAM_URL } from './stream.service';

describe('StreamService', () => {
  let sut: StreamService;
  let sources: ReturnType<typeof fakeEventSources>;
  let received: StreamMessage[];
  let online: boolean;

  function setup(): void {
    sources = fakeEventSources();
    TestBed.configureTestingModule({
      providers: [
        { provide: EVENT_SOURCE_FACTORY, useValue: sources.factory },
        { provide: WINDOW, useValue: window },
      ],
    });
    sut = TestBed.inject(StreamService);
    received = [];
    sut.messages.subscribe((message) => received.push(message));
  }

  /** Starts the stream and opens its first source. */
  function startLive(): FakeEventSource {
    sut.start();
    const source = sources.latest();
    source.open();
    return source;
  }

  beforeEach(() => {
    jest.useFakeTimers();
    online = true;
    jest.spyOn(window.navigator, 'onLine', 'get').mockImplementation(() => online);
    // With random() at 0.5 a delay is 3/4 of its exponential step.
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    setup();
  });

  afterEach(() => {
    TestBed.resetTestingModule();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  describe('connection state', () => {
    it('is offline until started, connecting while the first source opens, then live', () => {
      expect(sut.state()).toBe('offline');
      expect(sources.created).toHaveLength(0);

      sut.start();
      expect(sut.state()).toBe('connecting');
      expect(sut.live()).toBe(false);

      sources.latest().open();
      expect(sut.state()).toBe('live');
      expect(sut.live()).toBe(true);
    });

    it('opens one EventSource on the stream url, with credentials, however often it is started', () => {
      sut.start();
      sut.start();

      expect(sources.created).toHaveLength(1);
      expect(sources.latest().url).toBe('/api/v1/stream');
      expect(STREAM_URL).toBe('/api/v1/stream');
      expect(sources.latest().init).toEqual({ withCredentials: true });
    });

    it('shows reconnecting while the browser retries by itself, and live again when it succeeds', () => {
      const source = startLive();

      source.drop();
      expect(sut.state()).toBe('reconnecting');
      jest.advanceTimersByTime(60_000);
      expect(sources.created).toHaveLength(1); // the browser's own retry: no new source

      source.open();
      expect(sut.state()).toBe('live');
    });

    it('shows reconnecting when the first connection fails', () => {
      sut.start();
      sources.latest().fail();
      expect(sut.state()).toBe('reconnecting');
    });

    it('is offline after stop()', () => {
      startLive();
      sut.stop();
      expect(sut.state()).toBe('offline');
      expect(sources.latest().closed).toBe(true);
    });

    it('shows offline while the browser has no network, and retries at once when it comes back', () => {
      startLive().fail();
      expect(sources.created).toHaveLength(1); // waiting out the backoff

      online = false;
      window.dispatchEvent(new Event('offline'));
      expect(sut.state()).toBe('offline');

      online = true;
      window.dispatchEvent(new Event('online'));
      expect(sources.created).toHaveLength(2); // no waiting for the backoff timer
      expect(sut.state()).toBe('reconnecting');
      sources.latest().open();
      expect(sut.state()).toBe('live');
    });
  });

  describe('events', () => {
    it('delivers each event validated against the protocol, with its id', () => {
      const source = startLive();

      source.emit('telemetry', { deviceId: 'pump-1', ts: 10, values: { temperature: 21.5 } }, '7');
      source.emit('status', { deviceId: 'pump-1', online: false, ts: 11 }, '8');

      expect(received).toEqual([
        { event: 'telemetry', id: '7', data: { deviceId: 'pump-1', ts: 10, values: { temperature: 21.5 } } },
        { event: 'status', id: '8', data: { deviceId: 'pump-1', online: false, ts: 11 } },
      ]);
    });

    it('drops events that are not JSON or do not match the protocol', () => {
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      const source = startLive();

      source.emit('telemetry', '{not json', '1');
      source.emit('status', { deviceId: 'pump-1', online: 'yes', ts: 11 }, '2');
      source.emit('status', { deviceId: 'pump-1', online: true, ts: 12 }, '3');

      expect(received.map((message) => message.id)).toEqual(['3']);
      expect(warn).toHaveBeenCalledTimes(2);
    });

    it('filters one kind of event with on()', () => {
      const statuses: unknown[] = [];
      sut.on('status').subscribe((data) => statuses.push(data));
      const source = startLive();

      source.emit('telemetry', { deviceId: 'a', ts: 1, values: { x: 1 } });
      source.emit('status', { deviceId: 'a', online: true, ts: 2 });

      expect(statuses).toEqual([{ deviceId: 'a', online: true, ts: 2 }]);
    });

    it("passes on the server's reset", () => {
      const source = startLive();
      source.emit('reset', { reason: 'resume point expired' }, '99');
      expect(received).toEqual([{ event: 'reset', id: '99', data: { reason: 'resume point expired' } }]);
    });

    it('ignores a source it has already replaced', () => {
      const first = startLive();
      first.fail();
      jest.advanceTimersByTime(30_000);
      sources.latest().open();
      received.length = 0;

      first.emit('status', { deviceId: 'a', online: true, ts: 2 }, '5');
      first.fail();
      jest.advanceTimersByTime(30_000);

      expect(received).toEqual([]);
      expect(sut.state()).toBe('live');
      expect(sources.created).toHaveLength(2);
    });
  });

  describe('when the browser gives up (readyState CLOSED)', () => {
    it('makes a new EventSource after an exponential backoff with jitter, at most 30 s apart', () => {
      startLive();
      const expected = [750, 1_500, 3_000, 6_000, 12_000, 22_500, 22_500];

      for (const [attempt, delay] of expected.entries()) {
        sources.latest().fail();
        expect(sut.state()).toBe('reconnecting');
        expect(sources.latest().closed).toBe(true);

        jest.advanceTimersByTime(delay - 1);
        expect(sources.created).toHaveLength(attempt + 1);
        jest.advanceTimersByTime(1);
        expect(sources.created).toHaveLength(attempt + 2);
      }
    });

    it('never waits more than 30 s, whatever the jitter', () => {
      jest.spyOn(Math, 'random').mockReturnValue(0.999999);
      startLive();
      for (let i = 0; i < 12; i++) {
        sources.latest().fail();
        jest.advanceTimersByTime(30_000);
      }
      expect(sources.created).toHaveLength(13);
    });

    it('starts the backoff over once a new source opens', () => {
      startLive();
      for (let i = 0; i < 4; i++) {
        sources.latest().fail();
        jest.advanceTimersByTime(30_000);
      }
      sources.latest().open();

      sources.latest().fail();
      jest.advanceTimersByTime(750);
      expect(sources.created).toHaveLength(6);
    });

    it('passes the last event id on the url, so the server resumes after it', () => {
      const source = startLive();
      source.emit('telemetry', { deviceId: 'a', ts: 1, values: { x: 1 } }, '01J0-a/1');
      source.emit('telemetry', { deviceId: 'a', ts: 2, values: { x: 2 } }, '01J0-a/2');

      source.fail();
      jest.advanceTimersByTime(750);

      expect(sources.latest().url).toBe('/api/v1/stream?lastEventId=01J0-a%2F2');
      expect(sources.latest().init).toEqual({ withCredentials: true });
    });

    it('keeps the id of an event whose data was bad: it was delivered', () => {
      jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      const source = startLive();
      source.emit('status', 'garbage', '41');
      source.fail();
      jest.advanceTimersByTime(750);
      expect(sources.latest().url).toBe('/api/v1/stream?lastEventId=41');
    });

    it('asks for a refetch (reset) when it reconnects with no event id to resume from', () => {
      startLive().fail();
      jest.advanceTimersByTime(750);
      expect(sources.latest().url).toBe('/api/v1/stream');
      expect(received).toEqual([]);

      sources.latest().open();

      expect(received).toEqual([{ event: 'reset', id: '', data: { reason: RESYNC_REASON } }]);
    });

    it('does not ask for a refetch when it can resume', () => {
      const source = startLive();
      source.emit('status', { deviceId: 'a', online: true, ts: 2 }, '5');
      source.fail();
      jest.advanceTimersByTime(750);
      sources.latest().open();

      expect(received.map((message) => message.event)).toEqual(['status']);
    });
  });

  describe('stop()', () => {
    it('cancels a pending retry and forgets the resume point', () => {
      const source = startLive();
      source.emit('status', { deviceId: 'a', online: true, ts: 2 }, '5');
      source.fail();

      sut.stop();
      jest.advanceTimersByTime(60_000);
      expect(sources.created).toHaveLength(1);

      sut.start();
      expect(sources.created).toHaveLength(2);
      expect(sources.latest().url).toBe('/api/v1/stream');
    });

    it('closes the stream when the app is torn down', () => {
      const source = startLive();
      TestBed.resetTestingModule();
      expect(source.closed).toBe(true);
    });
  });
});
