import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Every scenario of the benchmark for a few seconds at low load (`--smoke`),
 * the tool and the api both run from source (nothing to build first). Only
 * that nothing is lost is checked: the figures of such a run mean nothing.
 */
const ROOT = resolve(__dirname, '../../..');
const RUN_CAP_MS = 100_000;
const CONSOLE = join(ROOT, 'dist/apps/console/browser/index.html');
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

interface Scenario {
  scenario: string;
  ok: boolean;
  results: Record<string, number | string | null>;
  notes: string[];
}

/** Why the smoke cannot run here, or undefined. */
function missing(): string | undefined {
  if (!existsSync('/proc/self/status')) return 'the benchmark reads /proc: Linux only';
  try {
    require.resolve('@swc-node/register', { paths: [ROOT] });
  } catch {
    return '@swc-node/register is not installed (npm ci)';
  }
  return undefined;
}

/** The console's fleet page also needs the console built and Chromium; the api's scenarios need nothing more. */
function consoleMissing(): string | undefined {
  if (!existsSync(CONSOLE)) return 'the console is not built (npx nx build console)';
  if (!CHROMIUM) return 'no Chromium (apt-get install chromium)';
  return undefined;
}

const reason = missing();
if (reason) console.log(`bench smoke skipped: ${reason}`);
const consoleReason = consoleMissing();
if (!reason && consoleReason) console.log(`bench smoke: console-fleet skipped: ${consoleReason}`);

(reason ? describe.skip : describe)('bench --smoke', () => {
  const scenarios = ['throughput', 'fanout', 'idle', 'commands', ...(consoleReason ? [] : ['console-fleet'])];
  let dir = '';
  let output = '';
  let code: number | null = null;
  let report: { scenarios: Scenario[] } | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iot-bench-smoke-'));
    const out = join(dir, 'results.json');
    const child = spawn(
      process.execPath,
      [
        '--require',
        '@swc-node/register',
        'tools/bench/src/main.ts',
        '--smoke',
        '--scenario',
        scenarios.join(','),
        '--api',
        'apps/api/src/app/main.ts',
        '--out',
        out,
      ],
      {
        cwd: ROOT,
        env: { ...process.env, SWC_NODE_PROJECT: join(ROOT, 'tools/bench/tsconfig.app.json') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_CAP_MS);
    code = await new Promise<number | null>((done) => child.once('exit', (exitCode) => done(exitCode)));
    clearTimeout(timer);
    if (existsSync(out)) report = JSON.parse(readFileSync(out, 'utf8')) as { scenarios: Scenario[] };
  }, RUN_CAP_MS + 10_000);

  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('runs every scenario to the end', () => {
    expect({ code, scenarios: report?.scenarios.map((s) => s.scenario), output: code === 0 ? '' : output }).toEqual({
      code: 0,
      scenarios,
      output: '',
    });
  });

  it.each(scenarios)('%s: nothing lost, and the api RSS sampled', (name) => {
    const result = report?.scenarios.find((s) => s.scenario === name);
    if (!result) throw new Error(`no result for ${name}:\n${output}`);
    const lost = Object.entries(result.results).filter(([key]) => /(^|: )lost$|^telemetry missing$/.test(key));
    const memory = Object.keys(result.results).filter((key) => key.startsWith('memory: '));
    expect({ ok: result.ok, notes: result.ok ? [] : result.notes }).toEqual({ ok: true, notes: [] });
    if (name !== 'idle') expect(lost.length).toBeGreaterThan(0);
    expect(lost.filter(([, value]) => value !== 0)).toEqual([]);
    expect(memory).toHaveLength(3);
  });

  it('commands: every command of each phase answered, none refused', () => {
    const results = report?.scenarios.find((s) => s.scenario === 'commands')?.results ?? {};
    const phases = Object.keys(results)
      .filter((key) => key.endsWith(': sent'))
      .map((key) => key.slice(0, -': sent'.length));
    expect(phases.length).toBeGreaterThanOrEqual(2);
    for (const phase of phases) {
      expect({
        phase,
        answered: results[`${phase}: answered`],
        refused: results[`${phase}: refused (with requestId)`],
      }).toEqual({
        phase,
        answered: results[`${phase}: sent`],
        refused: 0,
      });
    }
  });
});
