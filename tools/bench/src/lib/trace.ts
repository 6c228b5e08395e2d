/** A Chrome trace event (Trace Event Format): complete (X), begin/end (B/E) or metadata (M). */
interface TraceEvent {
  name: string;
  ph: string;
  /** µs. */
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: { name?: string; data?: { type?: string; functionName?: string } };
}

export interface TraceSummary {
  /** The renderer main thread summarised: the busiest CrRendererMain. */
  thread: string;
  /** First to last event on it, ms. */
  spanMs: number;
  /** Time inside top-level tasks, ms. */
  busyMs: number;
  /** Self time by event name (an EventDispatch by its event type), ms, busiest first. */
  byName: Array<{ name: string; selfMs: number; count: number }>;
}

/**
 * Chrome's DevTools timeline, the light part: enough to tell script from style, layout, paint, hit tests
 * and GC. (Adding `v8` and `disabled-by-default-devtools.timeline` slowed the page several-fold.)
 */
export const TIMELINE_CATEGORIES = ['devtools.timeline', 'toplevel'];

function label(event: TraceEvent): string {
  const type = event.args?.data?.type;
  return event.name === 'EventDispatch' && type ? `EventDispatch (${type})` : event.name;
}

/**
 * Where the page's main thread spent its time: self time per trace event
 * name (time in an event minus the events nested in it), like the
 * Bottom-Up tab of DevTools' Performance panel without the JS call tree.
 */
export function summarizeTrace(json: Buffer | string): TraceSummary {
  const parsed = JSON.parse(String(json)) as { traceEvents?: TraceEvent[] } | TraceEvent[];
  const events = Array.isArray(parsed) ? parsed : (parsed.traceEvents ?? []);
  const mains = new Set<string>();
  for (const e of events) {
    if (e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain') mains.add(`${e.pid}:${e.tid}`);
  }
  // Complete events per thread; B/E pairs are turned into complete ones.
  const byThread = new Map<string, Array<{ name: string; ts: number; dur: number }>>();
  const open = new Map<string, TraceEvent[]>();
  for (const e of events) {
    const key = `${e.pid}:${e.tid}`;
    if (!mains.has(key)) continue;
    let list = byThread.get(key);
    if (!list) byThread.set(key, (list = []));
    if (e.ph === 'X' && e.dur !== undefined) list.push({ name: label(e), ts: e.ts, dur: e.dur });
    else if (e.ph === 'B') open.set(key, [...(open.get(key) ?? []), e]);
    else if (e.ph === 'E') {
      const begin = open.get(key)?.pop();
      if (begin) list.push({ name: label(begin), ts: begin.ts, dur: e.ts - begin.ts });
    }
  }
  let thread = '';
  let best = -1;
  for (const [key, list] of byThread) {
    const total = list.filter((e) => e.name === 'RunTask').reduce((a, e) => a + e.dur, 0);
    if (total > best) [thread, best] = [key, total];
  }
  const list = (byThread.get(thread) ?? []).sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const self = new Map<string, { selfMs: number; count: number }>();
  const stack: Array<{ name: string; end: number; self: number }> = [];
  const close = (until: number) => {
    while (stack.length > 0 && stack[stack.length - 1].end <= until) {
      const done = stack.pop();
      if (!done) break;
      const entry = self.get(done.name) ?? { selfMs: 0, count: 0 };
      entry.selfMs += done.self / 1000;
      entry.count++;
      self.set(done.name, entry);
    }
  };
  let busy = 0;
  for (const e of list) {
    close(e.ts);
    const parent = stack[stack.length - 1];
    if (parent) parent.self -= Math.min(e.dur, parent.end - e.ts);
    else busy += e.dur;
    stack.push({ name: e.name, end: e.ts + e.dur, self: e.dur });
  }
  close(Infinity);
  const first = list[0]?.ts ?? 0;
  const last = list.reduce((a, e) => Math.max(a, e.ts + e.dur), first);
  return {
    thread,
    spanMs: Math.round((last - first) / 1000),
    busyMs: Math.round(busy / 1000),
    byName: [...self]
      .map(([name, v]) => ({ name, selfMs: Math.round(v.selfMs * 10) / 10, count: v.count }))
      .sort((a, b) => b.selfMs - a.selfMs),
  };
}

export function formatTrace(summary: TraceSummary, file: string, top = 20): string {
  return [
    `Chrome trace ${file}`,
    `  renderer main thread ${summary.thread}: ${summary.spanMs} ms traced, ${summary.busyMs} ms in tasks (${Math.round((summary.busyMs / Math.max(1, summary.spanMs)) * 100)}%)`,
    '  self time by event:',
    ...summary.byName
      .slice(0, top)
      .map(
        (e) =>
          `    ${((e.selfMs / Math.max(1, summary.busyMs)) * 100).toFixed(1).padStart(5)}%  ${String(Math.round(e.selfMs)).padStart(7)} ms  ${String(e.count).padStart(7)}×  ${e.name}`,
      ),
  ].join('\n');
}
