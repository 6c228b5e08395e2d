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
