import { metricSum, sleep } from '../lib/api-process';
import type { BenchOptions } from '../lib/args';
import { openFileLimit } from '../lib/proc';
import { type ScenarioResult, round } from '../lib/report';
import { type OpenStream, openStream } from '../lib/sse';
import { log, withApi } from './common';

/**
 * Before each reading. Opening 5,000 streams leaves about 1 KiB a stream
 * reachable for some seconds: after 5 s it was still there in half the runs
 * (a full GC then found 6.0 KiB of heap a stream instead of 5.1), after 15 s
 * never. An idle stream lives far longer than that.
 */
const SETTLE_MS = 15_000;
/** A smoke run only checks the streams are counted open and closed: a second is enough for that. */
const SMOKE_SETTLE_MS = 1_000;
const WARMUP_CLIENTS = 200;
/** After the settle, how long more to wait for iot_sse_clients to read 0. */
const CLOSE_WAIT_MS = 10_000;
const OPEN_CONCURRENCY = 100;

/**
 * Idle SSE memory: the api's RSS with N idle streams open, minus its RSS
 * before, over N. A warm-up round opens and closes a few streams first so
 * that code compiled and buffers pooled on first use are in the baseline.
 * No forced GC is possible from outside: each reading follows a settle.
 */
export function idle(options: BenchOptions): Promise<ScenarioResult> {
  const clients = options.clients ?? (options.smoke ? 50 : 5_000);
  const settleMs = options.smoke ? SMOKE_SETTLE_MS : SETTLE_MS;
  const warmupClients = options.smoke ? 10 : WARMUP_CLIENTS;
  const limit = openFileLimit();
  // This process holds one fd per stream, and so does the api (same limit, inherited).
  const needed = clients + 500;
  if (limit < needed) {
    return Promise.resolve({
      scenario: 'idle',
      ok: false,
      parameters: { sseClients: clients },
      results: {},
      notes: [
        `the open-file limit is ${limit}, ${clients} streams need about ${needed}: run \`ulimit -n ${Math.max(needed, 65536)}\` first`,
      ],
    });
  }
  return withApi(
    'idle',
    options,
    async ({ api, mark }) => {
      const openErrors = new Map<string, number>();
      const open = async (n: number): Promise<OpenStream[]> => {
        const out: OpenStream[] = [];
        let next = 0;
        const worker = async () => {
          while (next < n) {
            next++;
            // A refused or reset connect is retried (and counted), up to 3 tries.
            for (let attempt = 1; ; attempt++) {
              try {
                out.push(await openStream({ baseUrl: api.baseUrl, token: api.token }));
                break;
              } catch (error) {
                const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
                openErrors.set(code, (openErrors.get(code) ?? 0) + 1);
                if (attempt === 3) throw error;
                await sleep(100);
              }
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, n) }, worker));
        return out;
      };
      const closeAll = (streams: OpenStream[]) => streams.forEach((s) => s.close());
      const heap = (m: Map<string, number>) => metricSum(m, 'nodejs_heap_size_used_bytes');

      log(`idle: warm-up with ${warmupClients} streams`);
      closeAll(await open(warmupClients));
      await sleep(settleMs);
      const before = api.memory();
      const metricsBefore = await api.metrics();
      // With --force-gc: the same readings after a full GC, through the api's inspector.
      const afterGc = async () => {
        await api.collectGarbage();
        await sleep(1_000);
        return { memory: api.memory(), heap: heap(await api.metrics()) };
      };
      const beforeGc = options.forceGc ? await afterGc() : undefined;
      mark('start');
      log(`idle: opening ${clients} streams`);
      const started = performance.now();
      const streams = await open(clients);
      const openSeconds = (performance.now() - started) / 1000;
      try {
        await sleep(settleMs);
        const after = api.memory();
        const metricsAfter = await api.metrics();
        const withGc = options.forceGc ? await afterGc() : undefined;
        mark('end');
        const gauge = metricSum(metricsAfter, 'iot_sse_clients');
        const external = (m: Map<string, number>) => metricSum(m, 'nodejs_external_memory_bytes');
        const perClient = (after.rssKiB - before.rssKiB) / clients;
        closeAll(streams);
        log('idle: closed; settling');
        await sleep(settleMs);
        const closed = api.memory();
        let metricsClosed = await api.metrics();
        // A loaded machine (the smoke runs beside other tests) may see the last closes after the settle.
        for (
          let waited = 0;
          metricSum(metricsClosed, 'iot_sse_clients') !== 0 && waited < CLOSE_WAIT_MS;
          waited += 250
        ) {
          await sleep(250);
          metricsClosed = await api.metrics();
        }
        const gaugeClosed = metricSum(metricsClosed, 'iot_sse_clients');
        const closedGc = options.forceGc ? await afterGc() : undefined;
        const gcResults: Record<string, number> =
          beforeGc && withGc && closedGc
            ? {
                'after GC: RSS KiB per client': round((withGc.memory.rssKiB - beforeGc.memory.rssKiB) / clients, 1),
                'after GC: JS heap KiB per client': round((withGc.heap - beforeGc.heap) / 1024 / clients, 1),
                'after GC: JS heap before (MiB)': round(beforeGc.heap / 2 ** 20, 1),
                'after GC: JS heap with streams (MiB)': round(withGc.heap / 2 ** 20, 1),
                'after GC: JS heap after closing (MiB)': round(closedGc.heap / 2 ** 20, 1),
                'after GC: api RSS after closing (MiB)': round(closedGc.memory.rssKiB / 1024, 1),
              }
            : {};
        const notes: string[] = [];
        if (openErrors.size > 0)
          notes.push(`failed opens, retried: ${[...openErrors].map(([k, v]) => `${k} ×${v}`).join(', ')}`);
        if (gauge !== clients) notes.push(`iot_sse_clients read ${gauge} with ${clients} streams open`);
        if (gaugeClosed !== 0) notes.push(`iot_sse_clients read ${gaugeClosed} after every stream closed`);
        notes.push(
          options.forceGc
            ? `RSS from /proc/<api pid>/status (VmRSS) after a ${settleMs / 1000} s settle; "after GC" rows follow a full GC forced through the inspector`
            : `RSS is read from /proc/<api pid>/status (VmRSS) after a ${settleMs / 1000} s settle; the api is not forced to GC (see --force-gc)`,
        );
        return {
          scenario: 'idle',
          ok: gauge === clients && gaugeClosed === 0,
          parameters: { sseClients: clients, settleS: settleMs / 1000, warmupClients },
          results: {
            'open time (s)': round(openSeconds),
            'failed opens (retried)': [...openErrors.values()].reduce((a, b) => a + b, 0),
            'streams/s opened': Math.round(clients / openSeconds),
            iot_sse_clients: gauge,
            'api RSS before (MiB)': round(before.rssKiB / 1024, 1),
            'api RSS with streams (MiB)': round(after.rssKiB / 1024, 1),
            'RSS KiB per client': round(perClient, 1),
            'JS heap KiB per client': round((heap(metricsAfter) - heap(metricsBefore)) / 1024 / clients, 1),
            'external KiB per client': round((external(metricsAfter) - external(metricsBefore)) / 1024 / clients, 1),
            'api RSS after closing (MiB)': round(closed.rssKiB / 1024, 1),
            'JS heap before (MiB)': round(heap(metricsBefore) / 2 ** 20, 1),
            'JS heap with streams (MiB)': round(heap(metricsAfter) / 2 ** 20, 1),
            'JS heap after closing (MiB)': round(heap(metricsClosed) / 2 ** 20, 1),
            'api RSS peak (MiB)': round(closed.hwmKiB / 1024, 1),
            ...gcResults,
          },
          notes,
        };
      } finally {
        closeAll(streams);
      }
    },
    { inspector: options.forceGc },
  );
}
