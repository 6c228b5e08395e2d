import { readFileSync } from 'node:fs';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  /** Self time, ms. */
  selfMs: number;
  /** Share of the non-idle samples, %. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  /** The samples kept: ms from the profile's start. */
  window?: { fromMs: number; toMs: number };
  /** Wall time covered, ms. */
  totalMs: number;
  /** Time the main thread was idle (waiting in the event loop), ms. */
  idleMs: number;
  /** Self time by function. */
  functions: ProfileEntry[];
  /** Self time by where the code lives: a package, Node's internals, the api's bundle, GC. */
  origins: ProfileEntry[];
}

/** `node_modules/<pkg>` (scoped too), `node:internal`, `api` (the bundle), or the special frames. */
function originOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName.startsWith('(')) return functionName; // (garbage collector), (program), (idle)
    return '(native)';
  }
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) return 'node (internals)';
  // A page's script (console-fleet profiles the console): its file name.
  if (/^https?:/.test(url)) return `page: ${url.slice(url.lastIndexOf('/') + 1) || url}`;
  if (url.includes('/dist/apps/api/')) return 'api (its own code)';
  return url;
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist !== -1) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/**
 * Self time per function and per origin of a V8 .cpuprofile (main thread
 * only). `window` keeps only the samples between those offsets (ms from the
 * profile's start, about the process start), e.g. a scenario's measured run.
 */
export function summarizeProfile(file: string, window?: { fromMs: number; toMs: number }, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, CpuProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  let firstUs = Infinity;
  let lastUs = -Infinity;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i];
    const offsetMs = (at - profile.startTime) / 1000;
    if (window && (offsetMs < window.fromMs || offsetMs > window.toMs)) continue;
    firstUs = Math.min(firstUs, at);
    lastUs = Math.max(lastUs, at);
    // timeDeltas[i] is the time before sample i; attribute the next delta to this sample.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
  }
  const functions = new Map<string, number>();
  const origins = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const name = url
      ? `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}`
      : functionName || '(native)';
    functions.set(name, (functions.get(name) ?? 0) + us);
    const origin = originOf(url, functionName);
    origins.set(origin, (origins.get(origin) ?? 0) + us);
  }
  const list = (map: Map<string, number>): ProfileEntry[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: Math.round(us / 1000), percent: Math.round((us / busyUs) * 1000) / 10 }));
  return {
    file,
    window: window && { fromMs: Math.round(window.fromMs), toMs: Math.round(window.toMs) },
    totalMs: Number.isFinite(firstUs) ? Math.round((lastUs - firstUs) / 1000) : 0,
    idleMs: Math.round(idleUs / 1000),
    functions: list(functions),
    origins: list(origins),
  };
}

export function formatProfile(summary: ProfileSummary, top = 15): string {
  const lines = [
    `CPU profile ${summary.file}`,
    `  ${summary.window ? `window ${summary.window.fromMs}-${summary.window.toMs} ms after start: ` : ''}${summary.totalMs} ms of samples, main thread idle ${summary.idleMs} ms (${Math.round((summary.idleMs / Math.max(1, summary.totalMs)) * 100)}%)`,
    '  self time by origin (% of busy):',
    ...summary.origins
      .slice(0, 10)
      .map((e) => `    ${e.percent.toFixed(1).padStart(5)}%  ${String(e.selfMs).padStart(7)} ms  ${e.name}`),
    '  top functions by self time (% of busy):',
    ...summary.functions
      .slice(0, top)
      .map((e) => `    ${e.percent.toFixed(1).padStart(5)}%  ${String(e.selfMs).padStart(7)} ms  ${e.name}`),
  ];
  return lines.join('\n');
}
