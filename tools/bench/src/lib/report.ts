import type { ProfileSummary } from './profile';
import type { CpuSplit } from './proc';

export interface ScenarioResult {
  scenario: string;
  /** False when the run measured something wrong (loss, refusals, a shortfall). */
  ok: boolean;
  /** What was run: the parameters. */
  parameters: Record<string, number | string>;
  /** The numbers, flat, for the JSON and the table. */
  results: Record<string, number | string | null>;
  cpu?: CpuSplit;
  notes: string[];
  profile?: ProfileSummary;
  /** Raw samples for the JSON only (not printed). */
  details?: Record<string, unknown>;
}

/** Sorted values → the q-quantile (nearest rank). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function show(value: number | string | null): string {
  if (value === null) return '-';
  if (typeof value === 'string') return value;
  if (Object.is(value, -0)) return '0';
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/** One scenario as a two-column table. */
export function formatResult(result: ScenarioResult): string {
  const rows: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(result.parameters)) rows.push([`(param) ${key}`, show(value)]);
  for (const [key, value] of Object.entries(result.results)) rows.push([key, show(value)]);
  if (result.cpu) {
    const c = result.cpu;
    rows.push([
      c.apiCoresEach ? `cpu: ${c.apiCoresEach.length} api replicas (cores)` : 'cpu: api (cores)',
      show(c.apiCores),
    ]);
    c.apiCoresEach?.forEach((cores, i) => rows.push([`cpu: api replica ${i + 1} (cores)`, show(cores)]));
    rows.push(['cpu: publishers (cores)', show(c.publisherCores)]);
    rows.push(['cpu: SSE readers + bench (cores)', show(c.readerCores)]);
    if (c.browserCores !== undefined) rows.push(['cpu: chromium, all processes (cores)', show(c.browserCores)]);
    if (c.databaseCores !== undefined) rows.push(['cpu: PostgreSQL, all processes (cores)', show(c.databaseCores)]);
    for (const [name, cores] of Object.entries(c.serviceCores ?? {}))
      rows.push([`cpu: ${name}, all processes (cores)`, show(cores)]);
    rows.push(['cpu: everything else (cores)', show(c.otherCores)]);
    rows.push([`cpu: machine busy (of ${c.machineCores})`, show(c.machineBusyCores)]);
  }
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(...rows.map((r) => r[1].length));
  const line = `+${'-'.repeat(width + 2)}+${'-'.repeat(valueWidth + 2)}+`;
  const title = ` ${result.scenario} ${result.ok ? '' : '(CHECK: see notes)'}`.trimEnd();
  return [
    title,
    line,
    ...rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v.padStart(valueWidth)} |`),
    line,
    ...result.notes.map((n) => `  note: ${n}`),
  ].join('\n');
}
