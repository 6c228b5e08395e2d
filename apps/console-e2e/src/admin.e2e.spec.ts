import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { expectAccessible } from './axe';
import { expectText, launchChromium } from './browser';
import { ADMIN, adminToken, CHROMIUM, type Platform, SCREENSHOT_DIR, startPlatform } from './platform';

if (!CHROMIUM) console.warn('skipping the admin end-to-end tests: chromium is not installed');
const describeInBrowser = CHROMIUM ? describe : describe.skip;

const NEW_USER = { username: 'grace', password: 'grace-first-password' };
const NEXT_PASSWORD = 'grace-second-password';

/** The admin pages against the real api: a user is created, signs in, changes their password; the audit log shows it. */
describeInBrowser('console admin pages in Chromium against the real api', () => {
  let platform: Platform;
  let browser: Browser;
  let page: Page;

  async function signIn(username: string, password: string): Promise<void> {
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
  }

  beforeAll(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    platform = await startPlatform();
    const token = await adminToken(platform);
    for (const [id, labels] of [
      ['lab-1', { site: 'a', floor: '2' }],
      ['lab-2', { site: 'b' }],
    ] as const) {
      const res = await fetch(`${platform.url}/api/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id, name: `Sensor ${id}`, type: 'sensor', labels }),
      });
      if (res.status !== 201) throw new Error(`register ${id}: ${res.status}`);
    }
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    await page.goto(platform.url);
    await signIn(ADMIN.username, ADMIN.password);
  });

  afterAll(async () => {
    await browser?.close();
    await platform?.stop();
  });

  it('shows labels in the fleet and filters by them on the api', async () => {
    await expectText(page.getByRole('row').filter({ hasText: 'lab-1' }), /site=a/);
    await page.getByLabel('Labels').fill('site=a');
    await page.getByLabel('Labels').press('Enter');
    await page.getByRole('row').filter({ hasText: 'lab-2' }).waitFor({ state: 'detached' });
    await expectText(page.getByRole('row').filter({ hasText: 'lab-1' }), /floor=2/);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'fleet-labels.png') });
    await expectAccessible(page, 'fleet with filters');
  });

  it('lets an admin create a user on the Users page', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.getByRole('row').filter({ hasText: ADMIN.username }).waitFor();

    await page.getByRole('button', { name: 'New user' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Username').fill(NEW_USER.username);
    await dialog.getByLabel('Password').fill(NEW_USER.password);
    await dialog.getByLabel('Role').selectOption('operator');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'users-create.png') });
    await expectAccessible(page, 'new-user dialog');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    await dialog.waitFor({ state: 'detached' });

    const row = page.getByRole('row').filter({ hasText: NEW_USER.username });
    await row.waitFor();
    expect(await row.getByRole('combobox').inputValue()).toBe('operator');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'users.png') });
    await expectAccessible(page, 'users');
  });

  it('shows the creation in the audit log, and exports it as CSV', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.getByLabel('Action').fill('user.create');
    await page.getByRole('button', { name: 'Apply' }).click();
    const entry = page.getByRole('row').filter({ hasText: 'user.create' }).filter({ hasText: NEW_USER.username });
    await entry.waitFor();
    await expectText(entry, new RegExp(`${ADMIN.username}[\\s\\S]*ok`));
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'audit.png') });
    await expectAccessible(page, 'audit log');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export CSV' }).click(),
    ]);
    const csv = readFileSync((await download.path()) as string, 'utf8');
    expect(csv).toContain('user.create');
    expect(csv).toContain(NEW_USER.username);
    expect(csv).not.toContain('auth.login'); // the filter went with the export
  });

  it('lets the new user sign in, change their password, and sign in with the new one', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(NEW_USER.username, NEW_USER.password);
    await expectText(page.locator('.username'), new RegExp(NEW_USER.username));
    expect(await page.getByRole('link', { name: 'Users' }).count()).toBe(0);

    await page.getByRole('button', { name: 'Password' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Current password').fill(NEW_USER.password);
    await dialog.getByLabel('New password').fill(NEXT_PASSWORD);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'own-password.png') });
    await dialog.getByRole('button', { name: 'Change password' }).click();

    await signIn(NEW_USER.username, NEXT_PASSWORD);
  });
});
