/**
 * What the console-fleet scenario measures inside the page. `installProbe` is
 * handed to Playwright's addInitScript, so it runs in the page before the
 * console's own scripts; the other functions run through page.evaluate.
 *
 * These functions are serialised with toString() and run in the browser, so
 * they may use nothing from this module or its imports, and no syntax that
 * TypeScript compiles to a tslib helper at this project's target (ES2015):
 * no async/await, no object spread or rest.
 */

/** [startTime, duration] of a long task (≥ 50 ms on the main thread), ms. */
export type LongTask = [number, number];

/** A long animation frame (≥ 50 ms from its first task to its paint), with the script that took longest. */
export interface LongFrame {
  start: number;
  duration: number;
  /** Time in it that blocked input (each task's part over 50 ms, summed). */
  blocking: number;
  /** Style and layout, ms. */
  styleAndLayout: number;
  /** The longest script: who called it (an event, a timer, a callback) and for how long. */
  script: string;
}

/** A key or input event that took ≥ 16 ms from the input to the next paint (Event Timing API). */
export interface SlowEvent {
  name: string;
  start: number;
  duration: number;
  /** Input delay: until its handlers started. */
  delay: number;
  interactionId: number;
}

/** One keystroke in the search box, times in ms on the page's clock (performance.now()). */
export interface KeyTiming {
  query: string;
  expectedRows: number;
  /** The keydown's timeStamp: when the browser received the key. */
  keydownAt: number;
  /** The filtered list (right count, only matching rows) is in the DOM. */
  domAt: number;
  /** The first animation frame with a matching row inside the viewport. */
  frameAt: number;
  /** Just after that frame's rendering (a task posted from its rAF callback). */
  paintedAt: number;
  done: boolean;
}

export interface Probe {
  longTasks: LongTask[];
  longFrames: LongFrame[];
  slowEvents: SlowEvent[];
  /** requestAnimationFrame timestamps while recording. */
  frames: number[];
  recording: boolean;
  /** `telemetry` events the page's EventSource delivered. */
  telemetry: number;
  streamOpens: number;
  streamErrors: number;
  key: KeyTiming | null;
  startFrames(): void;
  stopFrames(): number[];
  armKey(query: string, expectedRows: number): void;
}

type ProbeHost = Window & { __probe: Probe; EventSource: typeof EventSource };

/** The init script: observers, the EventSource counter, the frame recorder and the keystroke timer. */
export function installProbe(): void {
  const host = window as unknown as ProbeHost;
  const probe: Probe = {
    longTasks: [],
    longFrames: [],
    slowEvents: [],
    frames: [],
    recording: false,
    telemetry: 0,
    streamOpens: 0,
    streamErrors: 0,
    key: null,
    startFrames() {
      if (probe.recording) return;
      probe.recording = true;
      probe.frames = [];
      requestAnimationFrame(onFrame);
    },
    stopFrames() {
      probe.recording = false;
      const frames = probe.frames;
      probe.frames = [];
      return frames;
    },
    armKey(query, expectedRows) {
      probe.key = { query, expectedRows, keydownAt: -1, domAt: -1, frameAt: -1, paintedAt: -1, done: false };
      mutations.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    },
  };
  host.__probe = probe;

  function onFrame(ts: number): void {
    if (!probe.recording) return;
    probe.frames.push(ts);
    requestAnimationFrame(onFrame);
  }

  function observe(type: string, onEntry: (entry: PerformanceEntry) => void, durationThreshold?: number): void {
    try {
      const init: PerformanceObserverInit & { durationThreshold?: number } = { type, buffered: true };
      if (durationThreshold !== undefined) init.durationThreshold = durationThreshold;
      new PerformanceObserver((list) => list.getEntries().forEach(onEntry)).observe(init);
    } catch {
      // an entry type this browser does not support: that list stays empty
    }
  }
  observe('longtask', (entry) => probe.longTasks.push([entry.startTime, entry.duration]));
  observe('long-animation-frame', (entry) => {
    const frame = entry as PerformanceEntry & {
      blockingDuration: number;
      renderStart: number;
      styleAndLayoutStart: number;
      scripts: Array<{ duration: number; invoker: string; sourceURL: string; sourceFunctionName: string }>;
    };
    let top = '';
    let topMs = 0;
    for (const script of frame.scripts) {
      if (script.duration <= topMs) continue;
      topMs = script.duration;
      const source = script.sourceURL.slice(script.sourceURL.lastIndexOf('/') + 1);
      top = `${script.invoker} ${script.sourceFunctionName || '?'}@${source} ${Math.round(script.duration)} ms`;
    }
    probe.longFrames.push({
      start: frame.startTime,
      duration: frame.duration,
      blocking: frame.blockingDuration,
      styleAndLayout: frame.styleAndLayoutStart > 0 ? frame.startTime + frame.duration - frame.styleAndLayoutStart : 0,
      script: top,
    });
  });
  observe(
    'event',
    (entry) => {
      const event = entry as PerformanceEntry & { processingStart: number; interactionId: number };
      // Keys only: pointer events fire by the thousand as rows slide under the mouse while scrolling.
      if (!/^(key|input|beforeinput)/.test(event.name)) return;
      probe.slowEvents.push({
        name: event.name,
        start: event.startTime,
        duration: event.duration,
        delay: event.processingStart - event.startTime,
        interactionId: event.interactionId,
      });
    },
    16,
  );

  // Count what the stream delivers: the console makes its EventSource with `new EventSource(…)`. Its
  // telemetry listener is wrapped rather than joined by a second one: a listener call per event costs.
  const NativeEventSource = host.EventSource;
  class CountingEventSource extends NativeEventSource {
    constructor(url: string | URL, init?: EventSourceInit) {
      super(url, init);
      super.addEventListener('open', () => probe.streamOpens++);
      super.addEventListener('error', () => probe.streamErrors++);
    }

    override addEventListener(
      type: string,
      listener: EventListenerOrEventListenerObject | null,
      options?: boolean | AddEventListenerOptions,
    ): void {
      if (type !== 'telemetry' || typeof listener !== 'function')
        return super.addEventListener(type, listener, options);
      super.addEventListener(
        type,
        function (this: EventSource, event: Event) {
          probe.telemetry++;
          return listener.call(this, event);
        },
        options,
      );
    }
  }
  host.EventSource = CountingEventSource;

  // Keystroke latency: keydown → the filtered list in the DOM → in the viewport → painted.
  document.addEventListener(
    'keydown',
    (event) => {
      if (probe.key && probe.key.keydownAt < 0) probe.key.keydownAt = event.timeStamp;
    },
    true,
  );
  const mutations = new MutationObserver(() => {
    const key = probe.key;
    if (!key || key.keydownAt < 0 || key.domAt >= 0 || !listShows(key)) return;
    key.domAt = performance.now();
    mutations.disconnect();
    requestAnimationFrame(function untilVisible(ts) {
      if (!inViewport(key)) {
        requestAnimationFrame(untilVisible);
        return;
      }
      key.frameAt = ts;
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        key.paintedAt = performance.now();
        key.done = true;
      };
      channel.port2.postMessage(0);
    });
  });

  /** The list has the expected number of rows (aria-rowcount) and every rendered row matches the query. */
  function listShows(key: KeyTiming): boolean {
    const list = document.getElementById('fleet-list');
    if (!list || list.getAttribute('aria-rowcount') !== String(key.expectedRows + 1)) return false;
    if (key.expectedRows === 0) return list.querySelector('.empty') !== null;
    const rows = list.querySelectorAll('iot-device-row');
    if (rows.length === 0) return false;
    for (const row of Array.from(rows)) {
      const id = row.querySelector('.id')?.textContent ?? '';
      const name = row.querySelector('.name')?.textContent ?? '';
      if (!`${id}\n${name}`.toLowerCase().includes(key.query)) return false;
    }
    return true;
  }

  /** Some row (or the "no match" line) is inside the scroll viewport: the user sees the result. */
  function inViewport(key: KeyTiming): boolean {
    const list = document.getElementById('fleet-list');
    if (!list) return false;
    if (key.expectedRows === 0) return list.querySelector('.empty') !== null;
    const viewport = list.querySelector('cdk-virtual-scroll-viewport');
    if (!viewport) return false;
    const box = viewport.getBoundingClientRect();
    for (const row of Array.from(list.querySelectorAll('iot-device-row'))) {
      const r = row.getBoundingClientRect();
      if (r.bottom > box.top && r.top < box.bottom) return true;
    }
    return false;
  }
}

/** In the page: the probe's lists and counters, without its functions. */
export function readProbe(): Omit<Probe, 'startFrames' | 'stopFrames' | 'armKey' | 'frames'> {
  const probe = (window as unknown as ProbeHost).__probe;
  return {
    longTasks: probe.longTasks,
    longFrames: probe.longFrames,
    slowEvents: probe.slowEvents,
    recording: probe.recording,
    telemetry: probe.telemetry,
    streamOpens: probe.streamOpens,
    streamErrors: probe.streamErrors,
    key: probe.key,
  };
}

/** In the page: starts recording frames; returns [performance.now(), telemetry events so far]. */
export function beginPhase(): [number, number] {
  const probe = (window as unknown as ProbeHost).__probe;
  probe.startFrames();
  return [performance.now(), probe.telemetry];
}

/** In the page: the measured run counts telemetry from here. */
export function resetTelemetry(): void {
  (window as unknown as ProbeHost).__probe.telemetry = 0;
}

export function telemetryCount(): number {
  return (window as unknown as ProbeHost).__probe.telemetry;
}

export function stopFrames(): number[] {
  return (window as unknown as ProbeHost).__probe.stopFrames();
}

export function armKey([query, expectedRows]: [string, number]): void {
  (window as unknown as ProbeHost).__probe.armKey(query, expectedRows);
}

/** In the page: the last keystroke's timing (small, unlike readProbe: read after every key). */
export function keyTiming(): KeyTiming | null {
  return (window as unknown as ProbeHost).__probe.key;
}

/** In the page: whether the fleet list is scrolled to its end (cheap: read every few wheel notches). */
export function atBottom(): boolean {
  const viewport = document.querySelector('cdk-virtual-scroll-viewport');
  return viewport ? viewport.scrollTop + viewport.clientHeight >= viewport.scrollHeight - 2 : false;
}

export function keyDone(): boolean {
  return (window as unknown as ProbeHost).__probe.key?.done === true;
}

/**
 * In the page: performance.now() once the header counts `total` devices and
 * a row is rendered, or false (for waitForFunction).
 */
export function fleetListed(total: number): number | false {
  let count = '';
  for (const item of Array.from(document.querySelectorAll('.count'))) {
    if (item.querySelector('dt')?.textContent?.trim() === 'Devices')
      count = item.querySelector('dd')?.textContent ?? '';
  }
  return count.trim() === String(total) && document.querySelector('iot-device-row') !== null
    ? performance.now()
    : false;
}

/** In the page: the navigation's timings and the device-list requests, ms from navigation start. */
export function loadTimings(): { responseEnd: number; domContentLoaded: number; deviceRequests: number[][] } {
  const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
  const lists = (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
    .filter((entry) => entry.name.includes('/api/v1/devices?'))
    .map((entry) => [entry.startTime, entry.responseEnd, entry.encodedBodySize]);
  return {
    responseEnd: nav ? nav.responseEnd : NaN,
    domContentLoaded: nav ? nav.domContentLoadedEventEnd : NaN,
    deviceRequests: lists,
  };
}

/** In the page: the DOM's size and what the virtual list renders. */
export function domStats(): { elements: number; rows: number; lastRowIndex: number; atBottom: boolean } {
  const rows = Array.from(document.querySelectorAll('iot-device-row'));
  const viewport = document.querySelector('cdk-virtual-scroll-viewport');
  let lastRowIndex = 0;
  for (const row of rows) lastRowIndex = Math.max(lastRowIndex, Number(row.getAttribute('aria-rowindex')) || 0);
  return {
    elements: document.getElementsByTagName('*').length,
    rows: rows.length,
    lastRowIndex,
    atBottom: viewport ? viewport.scrollTop + viewport.clientHeight >= viewport.scrollHeight - 2 : false,
  };
}
