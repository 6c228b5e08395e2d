import { readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ: 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

export interface MemorySample {
  /** Resident set, KiB (VmRSS). */
  rssKiB: number;
  /** Peak resident set, KiB (VmHWM). */
  hwmKiB: number;
}

/** VmRSS and VmHWM of a process, from /proc/<pid>/status. */
export function readMemory(pid: number): MemorySample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : NaN;
  };
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function readCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the full line, 12 and 13 after the name.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Every live descendant of `pid` (children, their children, …), from the parent pids in /proc/<pid>/stat. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The parent pid is the second field after the command name.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/** Busy and total CPU seconds of the whole machine, from /proc/stat. */
export function readMachineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = ticks[3] + (ticks[4] ?? 0); // idle + iowait
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/** The soft limit on open files of this process (inherited by the api it spawns). */
export function openFileLimit(): number {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!match) return NaN;
    return match[1] === 'unlimited' ? Infinity : Number(match[1]);
  } catch {
    return NaN;
  }
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  kernel: string;
  openFileLimit: number;
}

export function machineInfo(): MachineInfo {
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    kernel = 'unknown';
  }
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel,
    openFileLimit: openFileLimit(),
  };
}

/**
 * Where the CPU went between two points: the api, the load generator
 * (this process and its publisher children), a browser if there is one,
 * and the whole machine.
 */
export class CpuMeter {
  private readonly apiPids: number[];
  private apiStart: number[] = [];
  private selfStart = process.cpuUsage();
  private childrenStart = new Map<number, number>();
  private browserStart = new Map<number, number>();
  private databaseStart = new Map<number, number>();
  private serviceStart = new Map<number, number>();
  private machineStart = readMachineCpu();
  private wallStart = performance.now();

  constructor(
    /** The api process, or every replica. */
    apiPids: number | number[],
    private readonly childPids: () => number[],
    /** A browser's processes (console-fleet), read at both ends. */
    private readonly browserPids?: () => number[],
    /** A PostgreSQL server's processes (--database-url), read at both ends. */
    private readonly databasePids?: () => number[],
    /** Other servers of the run (a broker, a proxy), each with its processes, read at both ends. */
    private readonly services: Array<{ name: string; pids: () => number[] }> = [],
  ) {
    this.apiPids = Array.isArray(apiPids) ? apiPids : [apiPids];
    this.start();
  }

  start(): void {
    this.apiStart = this.apiPids.map(readCpuSeconds);
    this.selfStart = process.cpuUsage();
    this.childrenStart = new Map(this.childPids().map((pid) => [pid, readCpuSeconds(pid)]));
    this.browserStart = new Map((this.browserPids?.() ?? []).map((pid) => [pid, readCpuSeconds(pid)]));
    this.databaseStart = new Map((this.databasePids?.() ?? []).map((pid) => [pid, readCpuSeconds(pid)]));
    this.serviceStart = new Map(this.services.flatMap((s) => s.pids()).map((pid) => [pid, readCpuSeconds(pid)]));
    this.machineStart = readMachineCpu();
    this.wallStart = performance.now();
  }

  /** CPU use since start(), in cores (1.0 = one core busy the whole time). */
  read(): CpuSplit {
    const wall = (performance.now() - this.wallStart) / 1000;
    const self = process.cpuUsage(this.selfStart);
    const apiEach = this.apiPids.map((pid, i) => readCpuSeconds(pid) - this.apiStart[i]);
    const api = apiEach.reduce((a, b) => a + b, 0);
    let publishers = 0;
    for (const pid of this.childPids()) publishers += readCpuSeconds(pid) - (this.childrenStart.get(pid) ?? 0);
    // A process that started inside the window counts from its start; one that ended inside it is lost.
    const since = (pids: number[], start: Map<number, number>): number => {
      let sum = 0;
      for (const pid of pids) {
        const cpu = readCpuSeconds(pid);
        if (Number.isFinite(cpu)) sum += cpu - (start.get(pid) ?? 0);
      }
      return sum;
    };
    const browser = since(this.browserPids?.() ?? [], this.browserStart);
    const database = since(this.databasePids?.() ?? [], this.databaseStart);
    const services = this.services.map((s) => ({ name: s.name, seconds: since(s.pids(), this.serviceStart) }));
    const serviceTotal = services.reduce((a, s) => a + s.seconds, 0);
    const machine = readMachineCpu();
    const round = (n: number) => Math.round((n / wall) * 100) / 100;
    const reader = (self.user + self.system) / 1e6;
    const busy = machine.busy - this.machineStart.busy;
    return {
      seconds: Math.round(wall * 100) / 100,
      apiCores: round(api),
      ...(this.apiPids.length > 1 ? { apiCoresEach: apiEach.map(round) } : {}),
      publisherCores: round(publishers),
      readerCores: round(reader),
      ...(this.browserPids ? { browserCores: round(browser) } : {}),
      ...(this.databasePids ? { databaseCores: round(database) } : {}),
      ...(services.length > 0
        ? { serviceCores: Object.fromEntries(services.map((s) => [s.name, round(s.seconds)])) }
        : {}),
      otherCores: round(Math.max(0, busy - api - publishers - reader - browser - database - serviceTotal)),
      machineBusyCores: round(busy),
      machineCores: cpus().length,
    };
  }
}

export interface CpuSplit {
  seconds: number;
  /** The api process (event loop, SQLite, GC and libuv threads); with replicas, all of them. */
  apiCores: number;
  /** Each replica, in order (with more than one). */
  apiCoresEach?: number[];
  /** The MQTT publisher processes. */
  publisherCores: number;
  /** This process: the SSE readers and the orchestration. */
  readerCores: number;
  /** Every process of the browser (console-fleet): browser, renderer, GPU, utilities. */
  browserCores?: number;
  /** The PostgreSQL server, every process of it (with --database-url). */
  databaseCores?: number;
  /** Each other server of the run by name (the MQTT broker, the proxy), every process of it. */
  serviceCores?: Record<string, number>;
  /** Everything else on the machine (the kernel's own work, other processes): noise. */
  otherCores: number;
  /** Everything on the machine, for comparison with the sum of the above. */
  machineBusyCores: number;
  machineCores: number;
}

/** How busy the machine is with nothing of ours running, in cores, over `ms`. */
export async function backgroundLoad(ms = 2_000): Promise<number> {
  const start = readMachineCpu();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const end = readMachineCpu();
  return Math.round(((end.busy - start.busy) / (ms / 1000)) * 100) / 100;
}

export interface RssSummary {
  /** MiB, the first sample, the largest and the last. */
  startMiB: number;
  peakMiB: number;
  endMiB: number;
  samples: number;
  /** [ms since the first sample, MiB] for each sample. */
  timeline: Array<[number, number]>;
}

/**
 * Reads the resident set of some processes (summed) every `everyMs` from
 * start() to stop(): the peak between two readings of a scenario is seen,
 * not only its ends. A reading where none of them is left is skipped.
 */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly values: Array<[number, number]> = [];
  private startedAt = 0;

  constructor(
    private readonly pids: () => number[],
    private readonly everyMs = 250,
  ) {}

  start(): void {
    this.startedAt = performance.now();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    // A sample must not keep the tool alive.
    this.timer.unref();
  }

  /** Takes the last sample and stops. */
  stop(): RssSummary | undefined {
    if (this.timer === undefined) return undefined;
    clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    const mib = this.values.map(([, v]) => v);
    if (mib.length === 0) return undefined;
    return {
      startMiB: mib[0],
      peakMiB: Math.max(...mib),
      endMiB: mib[mib.length - 1],
      samples: mib.length,
      timeline: this.values,
    };
  }

  private sample(): void {
    let kib = 0;
    let read = 0;
    let pids: number[];
    try {
      pids = this.pids();
    } catch {
      return;
    }
    for (const pid of pids) {
      try {
        kib += readMemory(pid).rssKiB;
        read++;
      } catch {
        // exited
      }
    }
    if (read === 0) return;
    const at = Math.round(performance.now() - this.startedAt);
    this.values.push([at, Math.round((kib / 1024) * 10) / 10]);
  }
}
