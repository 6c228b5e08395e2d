import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { signal } from '@angular/core';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { provideRouter } from '@angular/router';
import type { DeviceModel, Role } from '@iot/protocol';
import { AuthService } from '../core/auth/auth.service';
import { ControlSocketService } from '../core/control/control-socket.service';
import { CONTROL_SOCKET_URL, WEB_SOCKET_FACTORY } from '../core/control/web-socket';
import { EVENT_SOURCE_FACTORY } from '../core/stream/event-source';
import { StreamService } from '../core/stream/stream.service';
import { type FakeEventSource, fakeEventSources } from '../core/testing/fake-event-source';
import { aUser } from '../core/testing/factories';
import { fakeWebSockets } from '../core/testing/fake-web-socket';
import { strictMock } from '../core/testing/strict-mock';
import { DevicePage, VALUE_STALE_AFTER_MS } from './device.page';

const BASE = '/api/v1/devices/boiler-1';

const THERMOSTAT: DeviceModel = {
  id: 'acme.thermostat',
  version: 2,
  title: 'Thermostat',
  telemetry: {
    temperature: { type: 'number', title: 'Temperature', unit: '°C', precision: 1, maximum: 60 },
    heating: { type: 'boolean', chart: 'step' },
  },
  commands: {
    'setpoint.set': {
      title: 'Set the setpoint',
      params: {
        type: 'object',
        properties: { value: { type: 'number', minimum: 5, maximum: 30, unit: '°C', default: 21 } },
        required: ['value'],
        additionalProperties: false,
      },
    },
    reboot: {},
  },
  desired: { interval: { type: 'integer', title: 'Interval', unit: 's', minimum: 1, maximum: 3600 } },
};

// jsdom has no canvas: the charts get a uPlot that draws nothing (telemetry-charts.spec.ts checks what it is given).
jest.mock('uplot', () => ({
  __esModule: true,
  default: jest.fn().mockImplementation(() => ({ setData: jest.fn(), setSize: jest.fn(), destroy: jest.fn() })),
}));

describe('DevicePage', () => {
  let fixture: ComponentFixture<DevicePage>;
  let http: HttpTestingController;
  let source: FakeEventSource;
  let page: HTMLElement;
  let sockets: ReturnType<typeof fakeWebSockets>;

  async function render(role: Role, model: DeviceModel | null = null): Promise<void> {
    const sources = fakeEventSources();
    sockets = fakeWebSockets();
    TestBed.configureTestingModule({
      imports: [DevicePage],
      providers: [
        provideRouter([]),
        provideHttpClient(),
        provideHttpClientTesting(),
        { provide: EVENT_SOURCE_FACTORY, useValue: sources.factory },
        { provide: WEB_SOCKET_FACTORY, useValue: sockets.factory },
        { provide: CONTROL_SOCKET_URL, useValue: 'ws://test/api/v1/ws' },
        { provide: AuthService, useValue: strictMock<AuthService>({ user: signal(aUser({ role })) }, 'AuthService') },
      ],
    });
    http = TestBed.inject(HttpTestingController);
    if (role !== 'viewer') TestBed.inject(ControlSocketService).enable();
    TestBed.inject(StreamService).start();
    source = sources.latest();
    source.open();

    fixture = TestBed.createComponent(DevicePage);
    fixture.componentRef.setInput('id', 'boiler-1');
    page = fixture.nativeElement as HTMLElement;
    await fixture.whenStable();
    const now = Date.now();
    http.expectOne(BASE).flush({
      id: 'boiler-1',
      name: 'Main boiler',
      type: 'boiler',
      labels: {},
      online: true,
      lastSeen: now,
      createdAt: 1,
    });
    http.expectOne(`${BASE}/telemetry/latest`).flush({
      temperature: { ts: now, value: 61.5 },
      pressure: { ts: now - VALUE_STALE_AFTER_MS - 1_000, value: 2 },
    });
    http.expectOne(`${BASE}/model`).flush({ model, misfits: {} });
    http.expectOne((req) => req.url === `${BASE}/commands`).flush({ items: [], nextCursor: null });
    http.expectOne(`${BASE}/state`).flush({
      reported: { interval: 5 },
      desired: { interval: 10 },
      delta: { interval: 10 },
      version: 2,
      reportedAt: 1,
      desiredAt: 1,
    });
    http
      .expectOne((req) => req.url === `${BASE}/telemetry`)
      .flush({
        deviceId: 'boiler-1',
        series: { temperature: [[now - 1_000, 61]] },
      });
    await fixture.whenStable();
  }

  const tile = (key: string) =>
    [...page.querySelectorAll('.tile')].find((t) => t.querySelector('.key')?.textContent === key);

  afterEach(() => {
    http.verify();
    TestBed.resetTestingModule();
  });

  it('shows the header and latest values, greying values that are old', async () => {
    await render('viewer');
    expect(page.querySelector('h1')?.textContent).toBe('Main boiler');
    expect(page.querySelector('.facts')?.textContent).toContain('boiler-1');
    expect(page.querySelector('.facts')?.textContent).toContain('Online');
    expect(tile('temperature')?.textContent).toContain('61.5');
    expect(tile('temperature')?.classList).not.toContain('is-stale');
    expect(tile('pressure')?.classList).toContain('is-stale');
  });

  it('charts each numeric key between the latest values and the control grid', async () => {
    await render('viewer');
    const sections = [...page.querySelectorAll('section[aria-labelledby], .grid')];
    const order = sections.map((s) => s.getAttribute('aria-labelledby') ?? s.className);
    expect(order.indexOf('values-title')).toBeLessThan(order.indexOf('charts-title'));
    expect(order.indexOf('charts-title')).toBeLessThan(order.indexOf('grid'));
    expect([...page.querySelectorAll('iot-telemetry-chart .chart-key')].map((k) => k.textContent)).toEqual([
      'pressure',
      'temperature',
    ]);
  });

  it('greys every value when the device goes offline, and applies live telemetry', async () => {
    await render('viewer');
    source.emit('telemetry', { deviceId: 'boiler-1', ts: Date.now(), values: { temperature: 70 } }, '1');
    source.emit('status', { deviceId: 'boiler-1', online: false, ts: Date.now() }, '2');
    await fixture.whenStable();
    expect(tile('temperature')?.textContent).toContain('70');
    expect(tile('temperature')?.classList).toContain('is-stale');
    expect(page.querySelector('.facts')?.textContent).toContain('Offline');
  });

  it('hides the command panel and state editor from viewers, and does not open the control socket', async () => {
    await render('viewer');
    expect(page.querySelector('iot-command-panel')).toBeNull();
    expect(page.querySelector('iot-state-card textarea')).toBeNull();
    expect(page.querySelector('iot-state-card')?.textContent).toContain('version 2');
    expect(sockets.created).toHaveLength(0);
  });

  it('gives operators the command panel and state editor, and connects the control socket', async () => {
    await render('operator');
    expect(page.querySelector('iot-command-panel')).not.toBeNull();
    expect(page.querySelector('iot-state-card textarea')).not.toBeNull();
    expect(sockets.created).toHaveLength(1);
    expect(page.querySelector('.state-table tr.differs th')?.textContent).toBe('interval');
  });

  it('refuses an invalid command name and non-object params without sending', async () => {
    await render('operator');
    const socket = sockets.latest();
    socket.open();
    const name = page.querySelector<HTMLInputElement>('iot-command-panel input');
    const params = page.querySelector<HTMLTextAreaElement>('iot-command-panel textarea');
    if (!name || !params) throw new Error('no command form');
    name.value = 'bad name!';
    name.dispatchEvent(new Event('input'));
    params.value = '[1, 2]';
    params.dispatchEvent(new Event('input'));
    page.querySelector('iot-command-panel form')?.dispatchEvent(new Event('submit'));
    await fixture.whenStable();

    expect(socket.sent).toHaveLength(0);
    expect(page.querySelector('iot-command-panel')?.textContent).toContain('Must be a JSON object');
  });

  it('sends a command and follows its lifecycle live, offering Cancel while it is pending', async () => {
    await render('operator');
    const socket = sockets.latest();
    socket.open();
    const panel = page.querySelector('iot-command-panel') as HTMLElement;
    const name = panel.querySelector<HTMLInputElement>('input');
    const params = panel.querySelector<HTMLTextAreaElement>('textarea');
    if (!name || !params) throw new Error('no command form');
    name.value = 'reboot';
    name.dispatchEvent(new Event('input'));
    params.value = '{"delay": 5}';
    params.dispatchEvent(new Event('input'));
    panel.querySelector('form')?.dispatchEvent(new Event('submit'));
    await fixture.whenStable();

    expect(socket.sent[0]).toMatchObject({
      event: 'command.send',
      data: { deviceId: 'boiler-1', name: 'reboot', params: { delay: 5 } },
    });
    const requestId = socket.lastRequestId();
    const frame = { requestId, commandId: 'cmd-1', deviceId: 'boiler-1', name: 'reboot' };
    socket.receive('command.status', { ...frame, status: 'pending', ts: 1_000 });
    await fixture.whenStable();
    const chip = () => panel.querySelector('.lifecycle p iot-command-status-chip')?.textContent?.trim();
    const cancel = () => [...panel.querySelectorAll('button')].find((b) => b.textContent?.includes('Cancel'));
    expect(chip()).toBe('pending');
    expect(cancel()).toBeDefined();

    socket.receive('command.status', { ...frame, status: 'sent', ts: 1_100 });
    source.emit('command', { ...frame, requestId: undefined, status: 'sent', ts: 1_100 }, '9');
    socket.receive('command.status', { ...frame, status: 'succeeded', ts: 1_200 });
    await fixture.whenStable();
    expect(chip()).toBe('succeeded');
    expect(cancel()).toBeUndefined();
    expect(page.querySelectorAll('iot-command-history li details')).toHaveLength(1);
    expect(
      [...panel.querySelectorAll('.transitions li')].map((li) =>
        li.querySelector('iot-command-status-chip')?.textContent?.trim(),
      ),
    ).toEqual(['pending', 'sent', 'succeeded']);
  });

  describe('with a device model', () => {
    const type = async (input: HTMLInputElement, value: string) => {
      input.value = value;
      input.dispatchEvent(new Event('input'));
      await fixture.whenStable();
    };

    it('shows titles, units and precision, and flags a value that does not fit', async () => {
      await render('viewer', THERMOSTAT);
      const temperature = tile('Temperature');
      expect(temperature?.querySelector('.value')?.textContent).toBe('61.5\u00a0°C');
      expect(temperature?.classList).toContain('is-misfit');
      expect(temperature?.textContent).toContain('above its maximum 60');
      expect(tile('pressure')?.classList).not.toContain('is-misfit');
      expect(page.querySelector('.facts')?.textContent).toContain('Thermostat');
    });

    it('offers the model commands, with a form generated from the params and its default filled', async () => {
      await render('operator', THERMOSTAT);
      const panel = page.querySelector('iot-command-panel') as HTMLElement;
      expect(panel.querySelector('mat-select')?.textContent).toContain('Set the setpoint');
      expect(panel.querySelector('textarea')).toBeNull();
      const value = panel.querySelector<HTMLInputElement>('formly-form input');
      expect(value?.value).toBe('21');
      expect(panel.querySelector('formly-form mat-label')?.textContent).toContain('value (°C)');
      expect(panel.textContent).toContain('5 to 30\u00a0°C');

      (panel.querySelector('.mat-mdc-select-trigger') as HTMLElement).click();
      await fixture.whenStable();
      const options = [...document.querySelectorAll<HTMLElement>('mat-option')];
      expect(options.map((o) => o.textContent?.trim())).toEqual(['Set the setpoint', 'reboot']);
      options[1].click();
      await fixture.whenStable();
      expect(panel.querySelector('formly-form')).toBeNull();
      expect(panel.textContent).toContain('This command takes no parameters.');
    });

    it('validates as the operator types, and sends nothing while invalid', async () => {
      await render('operator', THERMOSTAT);
      const socket = sockets.latest();
      socket.open();
      const panel = page.querySelector('iot-command-panel') as HTMLElement;
      const value = panel.querySelector<HTMLInputElement>('formly-form input') as HTMLInputElement;
      await type(value, '31');
      expect(panel.querySelector('mat-error')?.textContent).toContain('At most 30.');
      panel.querySelector('form')?.dispatchEvent(new Event('submit'));
      await fixture.whenStable();
      expect(socket.sent).toHaveLength(0);
    });

    it('sends the picked command with the form value, and shows the api refusal', async () => {
      await render('operator', THERMOSTAT);
      const socket = sockets.latest();
      socket.open();
      const panel = page.querySelector('iot-command-panel') as HTMLElement;
      await type(panel.querySelector<HTMLInputElement>('formly-form input') as HTMLInputElement, '22.5');
      panel.querySelector('form')?.dispatchEvent(new Event('submit'));
      await fixture.whenStable();
      expect(socket.sent[0]).toMatchObject({
        event: 'command.send',
        data: { deviceId: 'boiler-1', name: 'setpoint.set', params: { value: 22.5 } },
      });
      socket.receive('error', {
        requestId: socket.lastRequestId(),
        code: 'bad_request',
        message: 'params.value: must be <= 30',
      });
      await new Promise((resolve) => setTimeout(resolve));
      await fixture.whenStable();
      expect(panel.querySelector('.banner.error')?.textContent).toContain('params.value: must be <= 30');
    });

    it('shows a progress bar while the device reports progress', async () => {
      await render('operator', THERMOSTAT);
      const socket = sockets.latest();
      socket.open();
      const panel = page.querySelector('iot-command-panel') as HTMLElement;
      panel.querySelector('form')?.dispatchEvent(new Event('submit'));
      await fixture.whenStable();
      const frame = {
        requestId: socket.lastRequestId(),
        commandId: 'cmd-1',
        deviceId: 'boiler-1',
        name: 'setpoint.set',
      };
      socket.receive('command.status', { ...frame, status: 'pending', ts: 1_000 });
      socket.receive('command.status', { ...frame, status: 'in-progress', progress: 40, ts: 1_100 });
      await fixture.whenStable();
      expect(panel.querySelector('mat-progress-bar[mode="determinate"]')?.getAttribute('aria-label')).toBe(
        'Progress: 40%',
      );
    });

    it('edits the model desired properties in a form, sending only what changed', async () => {
      await render('operator', THERMOSTAT);
      const socket = sockets.latest();
      socket.open();
      const card = page.querySelector('iot-state-card') as HTMLElement;
      expect(card.querySelector('textarea')).toBeNull();
      const interval = card.querySelector<HTMLInputElement>('formly-form input') as HTMLInputElement;
      expect(interval.value).toBe('10');
      const apply = () => [...card.querySelectorAll('button')].find((b) => b.textContent?.includes('Apply'));
      expect(apply()?.disabled).toBe(true);
      await type(interval, '30');
      expect(apply()?.disabled).toBe(false);
      card.querySelector('form')?.dispatchEvent(new Event('submit'));
      await fixture.whenStable();
      expect(socket.sent[0]).toMatchObject({
        event: 'state.desired.set',
        data: { deviceId: 'boiler-1', patch: { interval: 30 }, expectedVersion: 2 },
      });
    });
  });
});
