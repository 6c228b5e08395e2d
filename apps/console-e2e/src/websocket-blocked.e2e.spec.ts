import { mkdirSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { expectText, launchChromium } from './browser';
import { ADMIN, adminToken, CHROMIUM, type Platform, registerDevice, SCREENSHOT_DIR, startPlatform } from './platform';

const describeInBrowser = CHROMIUM ? describe : describe.skip;

/**
 * A proxy as some corporate networks have: HTTP and Server-Sent Events pass,
 * every WebSocket upgrade is refused with 403.
 */
function startBlockingProxy(): Promise<{
  server: Server;
  port: number;
  setTarget(port: number): void;
  refused: () => number;
  posts: string[];
}> {
  let target = 0;
  let refused = 0;
  const posts: string[] = [];
  const server = createServer((req, res) => {
    if (req.method === 'POST' || req.method === 'PATCH') posts.push(`${req.method} ${req.url}`);
    const upstream = request(
      { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
    res.on('close', () => upstream.destroy());
  });
  server.on('upgrade', (_req, socket) => {
    refused += 1;
    socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        setTarget: (port) => (target = port),
        refused: () => refused,
        posts,
      }),
    ),
  );
}

describeInBrowser('console where WebSockets are blocked', () => {
  let proxy: Awaited<ReturnType<typeof startBlockingProxy>>;
  let platform: Platform;
  let browser: Browser;
  let page: Page;
  let device: MqttClient;

  beforeAll(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    proxy = await startBlockingProxy();
    const origin = `http://127.0.0.1:${proxy.port}`;
    platform = await startPlatform(undefined, { ALLOWED_ORIGINS: origin });
    proxy.setTarget(Number(new URL(platform.url).port));
    const credentials = await registerDevice(platform, await adminToken(platform), 'boiler-1', 'thermostat');
    device = await mqtt.connectAsync(platform.mqttUrl, { clientId: 'boiler-1', ...credentials, reconnectPeriod: 0 });
    await device.subscribeAsync('devices/boiler-1/commands/+', { qos: 1 });
    device.on('message', (topic) => {
      if (/^devices\/boiler-1\/commands\/[^/]+$/.test(topic))
        device.publish(`${topic}/result`, JSON.stringify({ status: 'succeeded', result: { ok: true } }), { qos: 1 });
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });

  afterAll(async () => {
    await browser?.close();
    device?.end(true);
    await platform?.stop();
    proxy?.server.closeAllConnections();
    await new Promise((resolve) => proxy?.server.close(resolve));
  });

  it('sends a command over HTTP, says so, and shows it succeed', async () => {
    await page.goto(`http://127.0.0.1:${proxy.port}/devices/boiler-1`);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.waitForURL(/\/devices\/boiler-1$/);
    await page.getByRole('heading', { name: 'thermostat boiler-1' }).waitFor();

    // The upgrade is refused: the indicator says commands go over HTTP, the stream is still live.
    await expectText(page.locator('iot-connection-status'), /Live · commands over HTTP/);
    expect(proxy.refused()).toBeGreaterThan(0);

    await page.getByLabel('Command name').fill('reboot');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await expectText(page.locator('.lifecycle'), /succeeded/);
    expect(proxy.posts).toContain('POST /api/v1/devices/boiler-1/commands');

    await page.getByLabel(/Desired-state merge patch/).fill('{"interval": 10}');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expectText(page.locator('iot-state-card'), /saved as version 1/);
    expect(proxy.posts).toContain('PATCH /api/v1/devices/boiler-1/state/desired');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'device-websocket-blocked.png'), fullPage: true });
  });
});
