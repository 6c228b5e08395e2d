import { readFileSync } from 'node:fs';
import type { AxeResults, RunOptions } from 'axe-core';
import type { Page } from 'playwright-core';

const AXE = require.resolve('axe-core');
/** WCAG 2.1 A and AA; best practices too, so that their findings are printed (only serious ones fail). */
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];

interface Finding {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core on the page as it is (open dialogs included) and fails on any
 * serious or critical violation; moderate and minor ones are printed.
 */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  await settleAnimations(page);
  // Evaluated rather than added as a script tag: the console's CSP refuses inline scripts, as it should.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(readFileSync(AXE, 'utf8'));
  const options: RunOptions = { runOnly: { type: 'tag', values: AXE_TAGS }, resultTypes: ['violations'] };
  const violations = await page.evaluate(async (options) => {
    // The whole document, charts included: uPlot's canvas sits in an element with role="img" and a text
    // summary, so axe treats it as one image, as a screen reader does.
    const axe = (window as unknown as { axe: { run(c: Document, o: RunOptions): Promise<AxeResults> } }).axe;
    const results = await axe.run(document, options);
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? 'unknown',
      help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`.replace(/\s+/g, ' ')),
    }));
  }, options);
  const blocking = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const other = violations.filter((v) => !blocking.includes(v));
  if (other.length > 0)
    console.log(`axe on ${name}: ${other.length} moderate or minor findings\n${other.map(formatFinding).join('\n')}`);
  expect(blocking.map(formatFinding)).toEqual([]);
}

function formatFinding(finding: Finding): string {
  return `[${finding.impact}] ${finding.id}: ${finding.help}\n    ${finding.nodes.join('\n    ')}`;
}

/** Waits until no finite animation or transition runs (dialogs opening), so that colours are final. */
export async function settleAnimations(page: Page): Promise<void> {
  await page.waitForFunction(() =>
    document
      .getAnimations()
      .every((a) => a.playState !== 'running' || a.effect?.getComputedTiming().iterations === Infinity),
  );
}
