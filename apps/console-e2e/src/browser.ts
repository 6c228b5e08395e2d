import { type Browser, chromium, type Locator } from 'playwright-core';
import { CHROMIUM } from './platform';

/** Debian's Chromium, headless, with nothing that would reach the network on its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Waits until the locator's text matches (Playwright polls the DOM, no fixed sleeps). */
export async function expectText(locator: Locator, pattern: RegExp): Promise<void> {
  await locator.filter({ hasText: pattern }).first().waitFor({ timeout: 15_000 });
  expect(await locator.first().innerText()).toMatch(pattern);
}

/**
 * Fills form fields and reads every one back, filling again those that do
 * not hold their value: a field that a form re-renders while Playwright types
 * into it can lose the text, or the dialog's focus trap can hand it to another
 * field. The first field is filled last, after everything that could move the
 * focus to it.
 */
export async function fillChecked(fields: Array<[Locator, string]>): Promise<void> {
  const order = [...fields.slice(1), ...fields.slice(0, 1)];
  for (const [field, value] of order) await field.fill(value);
  for (let pass = 0; pass < 3; pass++) {
    let mended = false;
    for (const [field, value] of order) {
      if ((await field.inputValue()) === value) continue;
      await field.fill(value);
      mended = true;
    }
    if (!mended) return;
  }
  for (const [field, value] of fields) expect(await field.inputValue()).toBe(value);
}
