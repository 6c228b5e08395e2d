import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { expectAccessible } from './axe';
import { expectText, launchChromium } from './browser';
import {
  ADMIN,
  adminToken,
  CHROMIUM,
  type Platform,
  registerDevice,
  SCREENSHOT_DIR,
  startPlatform,
  startSimulator,
} from './platform';

if (!CHROMIUM) console.warn('skipping the bulk end-to-end tests: chromium is not installed');
const describeInBrowser = CHROMIUM ? describe : describe.skip;

const SITE_A = ['bulk-thermostat-001', 'bulk-thermostat-002'];
const SITE_B = 'bulk-thermostat-003';
/** Offline when the bulk goes out: its command is held, and the bulk page shows it pending until it connects. */
const LATE = 'bulk-late';

/**
 * Bulk control against the real api and simulated thermostats: a command to
 * every device labelled `site=a` through the model's form, each device's
 * outcome live on the bulk page (one device connects only once the page is
 * open), reachable again from the audit log; then a desired-state patch to
 * devices picked by hand.
 */
describeInBrowser('console bulk commands and patches in Chromium', () => {
  let platform: Platform;
  let browser: Browser;
  let page: Page;
  let simulator: { stop(): Promise<void> };
  let token: string;
  let lateCredentials: { username: string; password: string };
  let late: MqttClient | undefined;

  const row = (id: string) => page.getByRole('row').filter({ hasText: id });

  async function call(method: string, path: string, body: unknown): Promise<void> {
    const res = await fetch(`${platform.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status}`);
  }
  const label = (id: string, site: string) => call('PATCH', `/devices/${id}`, { labels: { site } });

  /** Connects the late device, answering each command with success (held ones come once it subscribes). */
  async function connectLate(): Promise<MqttClient> {
    const client = await mqtt.connectAsync(platform.mqttUrl, { clientId: LATE, ...lateCredentials, reconnectPeriod: 0 });
    client.on('message', (topic) => {
      if (/^devices\/bulk-late\/commands\/[^/]+$/.test(topic)) {
        client.publish(`${topic}/result`, JSON.stringify({ status: 'succeeded' }), { qos: 1 });
      }
    });
    await client.subscribeAsync(`devices/${LATE}/commands/+`, { qos: 1 });
    return client;
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
    // Registered, labelled and given the thermostats' model (announced by the simulated ones), never connected yet.
    lateCredentials = await registerDevice(platform, token, LATE, 'thermostat');
    await label(LATE, 'a');
    await call('PUT', `/devices/${LATE}/model`, { model: { id: 'sim.thermostat', version: 1 } });
  });

  afterAll(async () => {
    await late?.endAsync();
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
    const progress = page.getByRole('definition');
    for (const id of SITE_A) await expectText(page.locator(`tr[data-device="${id}"]`), /succeeded/);
    // The offline device's command is held for it.
    await expectText(page.locator(`tr[data-device="${LATE}"]`), /pending/);
    expect(await progress.allInnerTexts()).toEqual(['2', '0', '1', '3']);
    expect(await page.locator(`tr[data-device="${SITE_B}"]`).count()).toBe(0);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'bulk-progress-pending.png') });

    // It connects: its command goes out, and the page follows it to its outcome without a reload.
    late = await connectLate();
    await expectText(page.locator(`tr[data-device="${LATE}"]`), /succeeded/);
    await expectText(page.locator('dl.counts'), /Succeeded\s*3/);
    expect(await progress.allInnerTexts()).toEqual(['3', '0', '0', '3']);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'bulk-progress.png') });
    await expectAccessible(page, 'bulk progress');
  });

  it('shows the bulk in the audit log, linked to its outcome', async () => {
    const bulkUrl = page.url();
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const entry = page.getByRole('row').filter({ hasText: 'command.bulk' });
    await expectText(entry, /setpoint\.set site=a 3 devices/);
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
