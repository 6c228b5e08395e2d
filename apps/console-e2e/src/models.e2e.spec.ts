import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { expectAccessible } from './axe';
import { expectText, launchChromium } from './browser';
import { ADMIN, CHROMIUM, type Platform, SCREENSHOT_DIR, startPlatform, startSimulator } from './platform';

if (!CHROMIUM) console.warn('skipping the device-model end-to-end tests: chromium is not installed');
const describeInBrowser = CHROMIUM ? describe : describe.skip;

/**
 * The console against the real api and the simulator, whose devices announce
 * their models: units, named commands and desired-state forms with no
 * configuration.
 */
describeInBrowser('console renders from device models, in Chromium', () => {
  let platform: Platform;
  let browser: Browser;
  let page: Page;
  let simulator: { stop(): Promise<void> };

  beforeAll(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    platform = await startPlatform();
    simulator = startSimulator(platform, [
      '--devices',
      '3',
      '--rate',
      '2',
      '--prefix',
      'sim',
      '--flaky',
      '0',
      '--seed',
      '11',
    ]);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(platform.url);
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
  });

  afterAll(async () => {
    await simulator?.stop();
    await browser?.close();
    await platform?.stop();
  });

  const row = (id: string) => page.getByRole('row').filter({ hasText: id });

  it('shows titles and units in the fleet', async () => {
    await expectText(row('sim-thermostat-001'), /Temperature\s-?[\d.]+\s°C/);
    await expectText(row('sim-meter-001'), /Power\s[\d,.]+\sW/);
    await expectText(row('sim-air-001'), /CO₂\s[\d,]+\sppm/);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'models-fleet.png') });
  });

  it('sends a command through its generated form, validated as typed, and sees its unit on a chart', async () => {
    await row('sim-thermostat-001').click();
    await page.waitForURL(/\/devices\/sim-thermostat-001$/);
    const panel = page.locator('iot-command-panel');
    await expectText(panel.locator('mat-select'), /Set the setpoint/);
    const value = panel.getByLabel(/Setpoint \(°C\)/);
    // The default is filled in.
    expect(await value.inputValue()).toBe('21');

    await value.fill('31');
    await expectText(panel.locator('mat-error'), /At most 30\./);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'models-command-form.png') });
    await value.fill('23.5');
    expect(await panel.locator('mat-error').count()).toBe(0);
    await panel.getByRole('button', { name: 'Send', exact: true }).click();
    await expectText(panel.locator('.lifecycle'), /succeeded/);

    // The device applies it and reports it: the setpoint chart (steps) shows it with its unit.
    const chart = page.locator('iot-telemetry-chart').filter({ hasText: 'Setpoint (°C)' });
    await expectText(chart.locator('.chart-latest'), /23\.5\s°C/);
    await expectText(page.locator('iot-telemetry-chart').filter({ hasText: 'Temperature (°C)' }), /°C/);
    await expectText(page.locator('.tile').filter({ hasText: 'Temperature' }), /-?[\d.]+\s°C/);
    await expect(page.getByText(/Not charted/).count()).resolves.toBe(0);
  });

  it('sets a desired property in a form', async () => {
    const card = page.locator('iot-state-card');
    await card.getByLabel(/Setpoint \(°C\)/).fill('19.5');
    await card.getByRole('button', { name: 'Apply' }).click();
    await expectText(card, /Desired state saved as version \d+/);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'models-device.png'), fullPage: true });
    await expectAccessible(page, 'device with a model');
  });

  it('zooms a chart to a custom range by dragging, and exports what it shows as CSV', async () => {
    const plot = page.locator('iot-telemetry-chart').filter({ hasText: 'Temperature (°C)' }).locator('.u-over');
    await plot.scrollIntoViewIfNeeded();
    // The simulator started seconds ago: its points are at the right end of the 5-minute window.
    await dragAcross(page, plot, 0.6, 0.999);
    await expectText(page.locator('.custom-note'), /Showing/);
    await page.getByRole('progressbar', { name: 'Loading telemetry history' }).waitFor({ state: 'detached' });
    await page.locator('iot-telemetry-charts').screenshot({ path: join(SCREENSHOT_DIR, 'models-zoomed-charts.png') });

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^sim-thermostat-001-telemetry-.*\.csv$/);
    const csv = readFileSync((await download.path()) as string, 'utf8');
    expect(csv.split('\r\n')[0]).toBe('time,key,value,unit');
    expect(csv).toMatch(/,temperature,-?[\d.]+,°C\r\n/);
    expect(csv).toMatch(/,heating,(true|false),\r\n/);

    await page.getByRole('button', { name: 'Back to live' }).click();
    await page.locator('.custom-note').waitFor({ state: 'detached' });
  });

  it('switches the power meter relay with an on/off choice, no JSON typed', async () => {
    await page.getByRole('link', { name: /Fleet/ }).first().click();
    await row('sim-meter-001').click();
    await page.waitForURL(/\/devices\/sim-meter-001$/);
    const panel = page.locator('iot-command-panel');
    await expectText(panel.locator('mat-select'), /Switch the relay/);
    await panel.getByRole('radio', { name: 'Off' }).check();
    await panel.getByRole('button', { name: 'Send', exact: true }).click();
    await expectText(panel.locator('.lifecycle'), /succeeded/);
    await expectText(page.locator('.tile').filter({ hasText: 'Relay' }), /off/);

    const card = page.locator('iot-state-card');
    await card.getByRole('radio', { name: 'On' }).check();
    await card.getByRole('button', { name: 'Apply' }).click();
    await expectText(card, /Desired state saved as version \d+/);
  });

  it('says the air-quality sensor takes no commands', async () => {
    await page.getByRole('link', { name: /Fleet/ }).first().click();
    await row('sim-air-001').click();
    await page.waitForURL(/\/devices\/sim-air-001$/);
    await expectText(page.locator('iot-command-panel'), /model has no commands/);
    await expectText(page.locator('iot-telemetry-chart').filter({ hasText: 'CO₂ (ppm)' }), /ppm/);
  });
});

/** A mouse drag across a fraction of an element's width, in its middle. */
async function dragAcross(page: Page, target: Locator, from: number, to: number): Promise<void> {
  const box = await target.boundingBox();
  if (!box) throw new Error('the chart is not on screen');
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * from, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * to, y, { steps: 8 });
  await page.mouse.up();
}
