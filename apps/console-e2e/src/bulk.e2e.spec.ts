import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { expectAccessible } from './axe';
import { expectText, launchChromium } from './browser';
import { ADMIN, adminToken, CHROMIUM, type Platform, SCREENSHOT_DIR, startPlatform, startSimulator } from './platform';

if (!CHROMIUM) console.warn('skipping the bulk end-to-end tests: chromium is not installed');
const describeInBrowser = CHROMIUM ? describe : describe.skip;

const SITE_A = ['bulk-thermostat-001', 'bulk-thermostat-002'];
const SITE_B = 'bulk-thermostat-003';

/**
 * Bulk control against the real api and simulated thermostats: a command to
 * every device labelled `site=a` through the model's form, each device's
 * outcome live on the bulk page, reachable again from the audit log; then a
 * desired-state patch to devices picked by hand.
 */
describeInBrowser('console bulk commands and patches in Chromium', () => {
  let platform: Platform;
  let browser: Browser;
  let page: Page;
  let simulator: { stop(): Promise<void> };
  let token: string;

  const row = (id: string) => page.getByRole('row').filter({ hasText: id });

  async function label(id: string, site: string): Promise<void> {
    const res = await fetch(`${platform.url}/api/v1/devices/${id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ labels: { site } }),
    });
    if (res.status !== 200) throw new Error(`label ${id}: ${res.status}`);
  }

  beforeAll(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    platform = await startPlatform();
    token = await adminToken(platform);
    simulator = startSimulator(platform, [
      '--devices',
      '3',
      '--types',
      'thermostat',
      '--rate',
      '1',
      '--prefix',
      'bulk',
      '--flaky',
      '0',
      '--seed',
      '7',
    ]);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(platform.url);
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    // Each device is registered, connected and has announced its model once its values show their titles.
    for (const id of [...SITE_A, SITE_B]) await expectText(row(id), /Temperature\s-?[\d.]+\s°C/);
    for (const id of SITE_A) await label(id, 'a');
    await label(SITE_B, 'b');
  });

  afterAll(async () => {
    await simulator?.stop();
    await browser?.close();
    await platform?.stop();
  });

  it('sends a command to every device labelled site=a and shows each outcome live', async () => {
    await page.getByLabel('Labels').fill('site=a');
    await page.getByLabel('Labels').press('Enter');
    await row(SITE_B).waitFor({ state: 'detached' });
    await expectText(row(SITE_A[0]), /site=a/);
    const bar = page.getByRole('region', { name: 'Bulk actions' });
    await expectText(bar, /every device labelled site=a/);

    await bar.getByRole('button', { name: 'Send command' }).click();
    const dialog = page.getByRole('dialog');
    // Every device has the thermostat model: its command and generated form, default filled in.
    await expectText(dialog, /sim\.thermostat@1/);
    const setpoint = dialog.getByLabel(/Setpoint \(°C\)/);
    expect(await setpoint.inputValue()).toBe('21');
    await setpoint.fill('22.5');
    await expectAccessible(page, 'bulk command dialog');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'bulk-command-dialog.png') });
    await dialog.getByRole('button', { name: 'Send to all' }).click();

    await page.waitForURL(/\/bulk\/[0-9a-f-]{36}$/);
    await page.getByRole('heading', { name: 'Bulk command: setpoint.set' }).waitFor();
    for (const id of SITE_A) await expectText(page.locator(`tr[data-device="${id}"]`), /succeeded/);
    const progress = page.getByRole('definition');
    expect(await progress.allInnerTexts()).toEqual(['2', '0', '0', '2']);
    expect(await page.locator(`tr[data-device="${SITE_B}"]`).count()).toBe(0);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'bulk-progress.png') });
    await expectAccessible(page, 'bulk progress');
  });

  it('shows the bulk in the audit log, linked to its outcome', async () => {
    const bulkUrl = page.url();
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const entry = page.getByRole('row').filter({ hasText: 'command.bulk' });
    await expectText(entry, /setpoint\.set site=a 2 devices/);
    expect(await entry.locator('.outcome-ok').count()).toBe(1);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'bulk-audit.png') });
    await entry.getByRole('link').click();
    await page.waitForURL(bulkUrl);
    await expectText(page.locator(`tr[data-device="${SITE_A[1]}"]`), /succeeded/);
  });

  it('patches the desired state of devices picked by hand', async () => {
    await page.getByRole('link', { name: 'IoT console, fleet' }).click();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    for (const id of [SITE_A[0], SITE_B]) await page.getByLabel(`Select Simulated thermostat ${id.slice(-3)}`).check();
    const bar = page.getByRole('region', { name: 'Bulk actions' });
    await expectText(bar, /2 selected devices/);
    await bar.getByRole('button', { name: 'Patch desired state' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(/Setpoint \(°C\)/).fill('19');
    await dialog.getByRole('button', { name: 'Patch all' }).click();

    await page.waitForURL(/\/bulk\/[0-9a-f-]{36}$/);
    await page.getByRole('heading', { name: 'Desired-state patch: setpoint' }).waitFor();
    for (const id of [SITE_A[0], SITE_B]) {
      await expectText(page.locator(`tr[data-device="${id}"]`), /succeeded[\s\S]*desired version \d+/);
    }
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'bulk-desired.png') });
  });
});
