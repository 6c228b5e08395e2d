import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { expectAccessible, settleAnimations } from './axe';
import { expectText, launchChromium } from './browser';
import { ADMIN, adminToken, CHROMIUM, type Platform, registerDevice, SCREENSHOT_DIR, startPlatform } from './platform';

// The issue: "Accessible (labels, keyboard use, contrast), usable at phone width, no fonts from the network".

if (!CHROMIUM) console.warn('skipping the accessibility end-to-end tests: chromium is not installed');
const describeInBrowser = CHROMIUM ? describe : describe.skip;

const PHONE = { width: 390, height: 844 };

describeInBrowser('console accessibility, keyboard use and phone layout in Chromium', () => {
  let platform: Platform;
  let token: string;
  let browser: Browser;
  let desktop: Page;
  let device: MqttClient;
  /** Every request the pages made that did not go to the platform (web fonts, CDNs, analytics…). */
  const foreign: string[] = [];
  const fonts: string[] = [];
  let requests = 0;

  async function newContext(options: Parameters<Browser['newContext']>[0]): Promise<BrowserContext> {
    const context = await browser.newContext(options);
    context.on('request', (request) => {
      requests++;
      const url = new URL(request.url());
      if (request.resourceType() === 'font') fonts.push(request.url());
      if (url.protocol !== 'data:' && url.protocol !== 'blob:' && url.origin !== platform.url)
        foreign.push(request.url());
    });
    return context;
  }

  beforeAll(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    platform = await startPlatform();
    token = await adminToken(platform);
    const credentials = await registerDevice(platform, token, 'boiler-1', 'thermostat');
    // meter-1 reported once and went away: its page shows values that may be out of date.
    const meter = await mqtt.connectAsync(platform.mqttUrl, {
      clientId: 'meter-1',
      ...(await registerDevice(platform, token, 'meter-1', 'meter')),
      reconnectPeriod: 0,
    });
    await meter.publishAsync('devices/meter-1/telemetry', JSON.stringify({ power: 1.25 }), { qos: 1 });
    await meter.endAsync();

    // boiler-1 is online, with two charts, a value that is not a number, state and a delta, and answers commands.
    device = await mqtt.connectAsync(platform.mqttUrl, { clientId: 'boiler-1', ...credentials, reconnectPeriod: 0 });
    await device.subscribeAsync('devices/boiler-1/commands/+', { qos: 1 });
    device.on('message', (topic) => {
      if (/^devices\/boiler-1\/commands\/[^/]+$/.test(topic))
        device.publish(`${topic}/result`, JSON.stringify({ status: 'succeeded', result: { ok: true } }), { qos: 1 });
    });
    for (const [temperature, humidity] of [
      [20.5, 41],
      [21, 43],
      [21.75, 42],
    ]) {
      const payload = { temperature, humidity, mode: 'heat' };
      await device.publishAsync('devices/boiler-1/telemetry', JSON.stringify(payload), { qos: 1 });
    }
    await device.publishAsync('devices/boiler-1/state/reported', JSON.stringify({ interval: 5, mode: 'eco' }), {
      qos: 1,
    });
    const desired = await fetch(`${platform.url}/api/v1/devices/boiler-1/state/desired`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ interval: 10 }),
    });
    expect(desired.status).toBe(200);

    browser = await launchChromium();
    desktop = await (await newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  });

  afterAll(async () => {
    await browser?.close();
    device?.end(true);
    await platform?.stop();
  });

  it('has no serious accessibility violations on the sign-in page', async () => {
    await desktop.goto(platform.url);
    await desktop.waitForURL(/\/login/);
    await desktop.getByRole('heading', { name: 'Sign in' }).waitFor();
    await expectAccessible(desktop, 'sign-in');
  });

  it('signs in with the keyboard alone, every focus visible', async () => {
    const username = desktop.getByLabel('Username');
    await tabTo(desktop, username);
    await desktop.keyboard.type(ADMIN.username);
    await desktop.keyboard.press('Tab');
    expect(await isFocused(desktop.getByLabel('Password', { exact: true }))).toBe(true);
    await expectFocusVisible(desktop);
    await desktop.keyboard.type(ADMIN.password);
    await desktop.keyboard.press('Enter');
    await desktop.getByRole('heading', { name: 'Fleet' }).waitFor();
  });

  it('has no serious accessibility violations on the fleet page', async () => {
    await expectText(desktop.getByRole('row').filter({ hasText: 'boiler-1' }), /temperature\s*21\.75/);
    await desktop.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    await expectAccessible(desktop, 'fleet');
  });

  it('opens a device from the fleet list with the keyboard (Tab to its row, Enter)', async () => {
    // From the top of the page: every control on the way shows where the focus is.
    await desktop.getByRole('link', { name: 'IoT console, fleet' }).focus();
    await tabTo(desktop, desktop.getByRole('row').filter({ hasText: 'boiler-1' }));
    await desktop.keyboard.press('Enter');
    await desktop.waitForURL(/\/devices\/boiler-1$/);
    await desktop.getByRole('heading', { name: 'thermostat boiler-1' }).waitFor();
  });

  it('has no serious accessibility violations on a device page: charts, command panel, state, history, admin', async () => {
    await desktop.getByRole('img', { name: /Chart of temperature/ }).waitFor();
    await desktop.getByRole('img', { name: /Chart of humidity/ }).waitFor();
    // A command sent from the panel, answered by the device: the lifecycle and the history have content.
    await desktop.getByLabel('Command name').fill('reboot');
    await desktop.getByLabel(/Parameters/).fill('{"delay": 1}');
    await desktop.getByRole('button', { name: 'Send', exact: true }).click();
    await expectText(desktop.locator('.lifecycle'), /succeeded/);
    await expectText(desktop.locator('iot-command-history'), /reboot/);
    await expectText(desktop.locator('iot-state-card tr.differs'), /interval/);
    await desktop.getByRole('button', { name: 'Rotate secret' }).waitFor();
    // A command's details open too, so that their content is checked.
    await desktop.locator('iot-command-history summary').first().click();
    await expectAccessible(desktop, 'device');
    await desktop.screenshot({ path: join(SCREENSHOT_DIR, 'device-light.png'), fullPage: true });
  });

  it('has no serious accessibility violations on the page of an offline device, its values shown as stale', async () => {
    await desktop.goto(`${platform.url}/devices/meter-1`);
    await desktop.getByRole('heading', { name: 'meter meter-1' }).waitFor();
    await desktop.locator('.tile.is-stale').filter({ hasText: 'power' }).waitFor();
    await expectAccessible(desktop, 'device (offline)');
    await desktop.screenshot({ path: join(SCREENSHOT_DIR, 'device-offline.png'), fullPage: true });
    await desktop.goto(`${platform.url}/devices/boiler-1`);
    await desktop.getByRole('img', { name: /Chart of temperature/ }).waitFor();
  });

  it('has no serious accessibility violations on a device page in the dark theme', async () => {
    await desktop.emulateMedia({ colorScheme: 'dark' });
    try {
      // The theme follows the system: the page's background turns dark.
      await desktop.waitForFunction(() => {
        const [r, g, b] = (getComputedStyle(document.body).backgroundColor.match(/\d+/g) ?? []).map(Number);
        return r + g + b < 3 * 64;
      });
      await expectAccessible(desktop, 'device (dark)');
      await desktop.screenshot({ path: join(SCREENSHOT_DIR, 'device-dark.png'), fullPage: true });
    } finally {
      await desktop.emulateMedia({ colorScheme: 'light' });
    }
  });

  it('has no serious accessibility violations in the register dialog, as a form and with the new credentials', async () => {
    await desktop.getByRole('link', { name: /Fleet/ }).first().click();
    await desktop.getByRole('button', { name: 'Register device' }).click();
    const dialog = desktop.getByRole('dialog');
    await dialog.getByLabel('Device id').waitFor();
    // Submitted empty: the errors are shown, and must be readable too.
    await dialog.getByRole('button', { name: '+ Add label' }).click();
    await dialog.getByRole('button', { name: 'Register', exact: true }).click();
    await dialog.locator('mat-error').first().waitFor();
    await expectAccessible(desktop, 'register device (form)');

    await dialog.getByLabel('Name').fill('Pump 7');
    await dialog.getByLabel('Device id').fill('pump-7');
    await dialog.getByRole('button', { name: 'Remove label 1' }).click();
    await dialog.getByRole('button', { name: 'Register', exact: true }).click();
    await dialog.getByRole('heading', { name: 'Device registered' }).waitFor();
    await expectAccessible(desktop, 'register device (credentials)');
    await dialog.getByRole('button', { name: 'Open device page' }).click();
    await desktop.waitForURL(/\/devices\/pump-7$/);
  });

  it('has no serious accessibility violations in the delete dialog, which Escape closes', async () => {
    await desktop.getByRole('button', { name: 'Delete device' }).click();
    const dialog = desktop.getByRole('alertdialog');
    await dialog.getByLabel('Type the device id to confirm').fill('pump-7');
    await expectAccessible(desktop, 'delete device');
    await desktop.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    // The focus goes back to the button that opened the dialog.
    expect(await isFocused(desktop.getByRole('button', { name: 'Delete device' }))).toBe(true);
  });

  describe('at phone width (390×844, touch)', () => {
    let phone: Page;

    beforeAll(async () => {
      const context = await newContext({ viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      phone = await context.newPage();
      await phone.goto(platform.url);
      await phone.getByLabel('Username').fill(ADMIN.username);
      await phone.getByLabel('Password', { exact: true }).fill(ADMIN.password);
      await phone.getByRole('button', { name: 'Sign in' }).tap();
      await phone.getByRole('heading', { name: 'Fleet' }).waitFor();
    });

    it('shows the fleet without sideways scrolling', async () => {
      await expectText(phone.getByRole('row').filter({ hasText: 'boiler-1' }), /temperature\s*21\.75/);
      await expectNoHorizontalOverflow(phone);
      for (const control of [
        phone.getByRole('heading', { name: 'Fleet' }),
        phone.getByRole('status').filter({ hasText: 'Live' }),
        phone.getByRole('button', { name: 'Sign out' }),
        phone.getByLabel('Search by name or id'),
        phone.getByRole('button', { name: 'Register device' }),
        phone.getByRole('row').filter({ hasText: 'boiler-1' }),
        phone.getByRole('row').filter({ hasText: 'meter-1' }),
      ])
        await expectOnScreen(control);
      await expectAccessible(phone, 'fleet (phone)');
      await phone.screenshot({ path: join(SCREENSHOT_DIR, 'fleet-phone.png'), fullPage: true });
    });

    it('shows the register dialog within the screen', async () => {
      await phone.getByRole('button', { name: 'Register device' }).tap();
      const dialog = phone.getByRole('dialog');
      await dialog.getByLabel('Device id').waitFor();
      await settleAnimations(phone);
      for (const control of [
        dialog.getByLabel('Device id'),
        dialog.getByLabel('Name'),
        dialog.getByRole('button', { name: 'Register', exact: true }),
        dialog.getByRole('button', { name: 'Cancel' }),
      ])
        await expectOnScreen(control);
      await expectNoHorizontalOverflow(phone);
      await phone.screenshot({ path: join(SCREENSHOT_DIR, 'register-device-phone.png') });
      await dialog.getByRole('button', { name: 'Cancel' }).tap();
      await dialog.waitFor({ state: 'detached' });
    });

    it('shows a device page without sideways scrolling', async () => {
      await phone.getByRole('row').filter({ hasText: 'boiler-1' }).tap();
      await phone.waitForURL(/\/devices\/boiler-1$/);
      await phone.getByRole('img', { name: /Chart of temperature/ }).waitFor();
      await expectText(phone.locator('iot-command-history'), /reboot/);
      await expectNoHorizontalOverflow(phone);
      for (const control of [
        phone.getByRole('heading', { name: 'thermostat boiler-1' }),
        phone.getByRole('link', { name: /Fleet/ }).first(),
        phone.getByRole('img', { name: /Chart of temperature/ }),
        phone.getByRole('img', { name: /Chart of humidity/ }),
        phone
          .getByRole('radio', { name: '1 h' })
          .or(phone.getByRole('button', { name: '1 h' }))
          .first(),
        phone.getByLabel('Command name'),
        phone.getByRole('button', { name: 'Send', exact: true }),
        phone.getByLabel(/Desired-state merge patch/),
        phone.getByRole('button', { name: 'Apply' }),
        phone.locator('iot-state-card table'),
        phone.getByRole('button', { name: 'Rotate secret' }),
        phone.getByRole('button', { name: 'Delete device' }),
      ])
        await expectOnScreen(control);
      await expectAccessible(phone, 'device (phone)');
      await phone.screenshot({ path: join(SCREENSHOT_DIR, 'device-phone.png'), fullPage: true });
    });
  });

  it('fetched nothing from another host: no web fonts, no CDN', async () => {
    expect(requests).toBeGreaterThan(10);
    expect(foreign).toEqual([]);
    // System fonts only: not even the platform serves a font.
    expect(fonts).toEqual([]);
    expect(
      await desktop.evaluate(() => {
        const loaded: string[] = [];
        document.fonts.forEach((font) => loaded.push(`${font.family} ${font.status}`));
        return loaded;
      }),
    ).toEqual([]);
  });
});

async function isFocused(locator: Locator): Promise<boolean> {
  return locator.evaluate((element) => element === document.activeElement);
}

/** Presses Tab until `target` has the focus, checking that every element the focus passes shows it. */
async function tabTo(page: Page, target: Locator, maxStops = 30): Promise<void> {
  for (let stop = 0; stop < maxStops; stop++) {
    await page.keyboard.press('Tab');
    await expectFocusVisible(page);
    if (await isFocused(target.first())) return;
  }
  throw new Error(`${target} not reached in ${maxStops} presses of Tab`);
}

/**
 * The focused element shows the focus: an outline or a shadow of its own, or
 * (for a Material form field's input) the field's thicker focus outline.
 */
async function expectFocusVisible(page: Page): Promise<void> {
  const focus = await page.evaluate(() => {
    const element = document.activeElement as HTMLElement | null;
    if (!element || element === document.body) return { element: 'body', visible: false };
    const style = getComputedStyle(element);
    const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
    const field = element.closest('.mat-mdc-form-field');
    const edge = field?.querySelector('.mdc-notched-outline__leading');
    const fieldRing =
      !!field?.classList.contains('mat-focused') && !!edge && parseFloat(getComputedStyle(edge).borderTopWidth) >= 2;
    const label = element.getAttribute('aria-label') ?? element.textContent?.trim().slice(0, 40) ?? '';
    return { element: `<${element.tagName.toLowerCase()}> ${label}`, visible: ring || fieldRing };
  });
  expect(focus).toEqual({ element: focus.element, visible: true });
}

async function expectNoHorizontalOverflow(page: Page): Promise<void> {
  const { scrollWidth, clientWidth, widest } = await page.evaluate(() => {
    const root = document.scrollingElement as HTMLElement;
    // For the message: the elements that stick out on the right.
    const widest = Array.from(document.querySelectorAll<HTMLElement>('body *'))
      .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 1)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}.${e.className} → ${Math.round(e.getBoundingClientRect().right)}`);
    return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, widest };
  });
  expect({ scrollWidth: scrollWidth <= clientWidth + 1 ? 'fits' : scrollWidth, widest }).toEqual({
    scrollWidth: 'fits',
    widest: [],
  });
}

/** Visible, and within the screen's width (a control cut off at the edge cannot be used). */
async function expectOnScreen(locator: Locator): Promise<void> {
  await locator.first().waitFor({ state: 'visible' });
  const box = await locator.first().boundingBox();
  const width = locator.page().viewportSize()?.width ?? 0;
  expect(box).not.toBeNull();
  expect({
    left: Math.round(box?.x ?? -1) >= 0,
    right: Math.round((box?.x ?? 0) + (box?.width ?? 0)) <= width,
  }).toEqual({
    left: true,
    right: true,
  });
}
