import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { MATERIAL_ANIMATIONS } from '@angular/material/core';
import { Router } from '@angular/router';
import type { DeviceModel } from '@iot/protocol';
import {
  aDeviceView,
  buttonByText,
  dialogElement,
  fakeAuth,
  settle as settleDialogs,
  someCredentials,
  typeInto,
} from '../admin/testing';
import { AuthService } from '../core/auth/auth.service';
import { DEVICES_URL } from '../core/devices/devices-api';
import { EVENT_SOURCE_FACTORY } from '../core/stream/event-source';
import { StreamService } from '../core/stream/stream.service';
import { type FakeEventSource, fakeEventSources } from '../core/testing/fake-event-source';
import { aDevice } from '../core/testing/factories';
import { FleetPage, sharedModel } from './fleet.page';
import { type FleetEntry, FLUSH_MS } from './fleet.store';

describe('FleetPage', () => {
  let fixture: ComponentFixture<FleetPage>;
  let http: HttpTestingController;
  let source: FakeEventSource;
  let page: HTMLElement;
  let setRole: ReturnType<typeof fakeAuth>['setRole'];

  const rows = () => [...page.querySelectorAll('iot-device-row')];
  const count = (label: string) =>
    [...page.querySelectorAll('.count')]
      .find((c) => c.querySelector('dt')?.textContent?.trim() === label)
      ?.querySelector('dd')?.textContent;

  async function settle(): Promise<void> {
    await fixture.whenStable();
    // The virtual scroll viewport renders its range a frame later.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await fixture.whenStable();
  }

  beforeEach(async () => {
    const sources = fakeEventSources();
    const auth = fakeAuth('viewer');
    setRole = auth.setRole;
    TestBed.configureTestingModule({
      imports: [FleetPage],
      providers: [
        provideHttpClient(),
        provideHttpClientTesting(),
        { provide: EVENT_SOURCE_FACTORY, useValue: sources.factory },
        { provide: AuthService, useValue: auth.auth },
        { provide: MATERIAL_ANIMATIONS, useValue: { animationsDisabled: true } },
      ],
    });
    http = TestBed.inject(HttpTestingController);
    TestBed.inject(StreamService).start();
    source = sources.latest();
    source.open();

    fixture = TestBed.createComponent(FleetPage);
    page = fixture.nativeElement as HTMLElement;
    await fixture.whenStable();
    http
      .expectOne((req) => req.url === DEVICES_URL)
      .flush({
        items: [
          aDevice({
            id: 'pump-1',
            name: 'Cellar pump',
            online: true,
            model: { id: 'acme.pump', version: 1 },
            latest: { temperature: { ts: 1, value: 21.537 } },
          }),
          aDevice({ id: 'boiler-1', name: 'Main boiler', online: false, type: null }),
        ],
        nextCursor: null,
      });
    await settle();
  });

  /**
   * Answers the model requests: by device (`/devices/{id}/model`, none unless given) and by the list's
   * refs (`/models/{id}/versions/{version}`, keyed `id@version`, a bare model unless given).
   */
  async function answerModels(models: Record<string, DeviceModel> = {}): Promise<void> {
    for (const req of http.match((r) => r.url.endsWith('/model'))) {
      const id = decodeURIComponent(req.request.url.split('/').slice(-2)[0]);
      req.flush({ model: models[id] ?? null, misfits: {} });
    }
    for (const req of http.match((r) => r.url.includes('/models/'))) {
      const [id, , version] = req.request.url.split('/').slice(-3);
      req.flush(models[`${id}@${version}`] ?? { id, version: Number(version) });
    }
    await settle();
  }

  afterEach(async () => {
    await answerModels();
    http.verify();
  });

  it('shows titles, units and precision from the device model, and flags a value that does not fit', async () => {
    // The list gave pump-1's model ref: the model is fetched by it, not asked per device.
    expect(http.match((r) => r.url.endsWith('/devices/pump-1/model'))).toHaveLength(0);
    await answerModels({
      'acme.pump@1': {
        id: 'acme.pump',
        version: 1,
        telemetry: { temperature: { type: 'number', title: 'Water', unit: '°C', precision: 1, maximum: 20 } },
      },
    });
    expect(rows()[0].textContent).toContain('Water\u00a021.5\u00a0°C');
    expect(rows()[0].querySelector('.value')?.classList).toContain('is-misfit');
  });

  it('shows the counts and a row per device, with formatted values', () => {
    expect(count('Devices')).toBe('2');
    expect(count('Online')).toBe('1');
    expect(count('Offline')).toBe('1');
    expect(rows().map((row) => row.querySelector('.name')?.textContent)).toEqual(['Cellar pump', 'Main boiler']);
    expect(rows()[0].textContent).toContain('temperature\u00a021.54');
    expect(rows()[1].textContent).toContain('no telemetry');
    expect(rows()[0].getAttribute('role')).toBe('row');
  });

  it("shows each device's labels as chips", async () => {
    const pump = aDevice({ id: 'pump-1', name: 'Cellar pump', labels: { site: 'a', floor: '2' } });
    fixture.componentInstance['store'].reload();
    http.expectOne((req) => req.url === DEVICES_URL).flush({ items: [pump], nextCursor: null });
    await settle();
    expect([...rows()[0].querySelectorAll('.label')].map((chip) => chip.textContent)).toEqual(['site=a', 'floor=2']);
  });

  it('sends the label, type and state filters to the api, and not a malformed selector', async () => {
    const form = page.querySelector<HTMLFormElement>('form.filters');
    const field = (name: string) => form?.querySelector<HTMLInputElement | HTMLSelectElement>(`[name="${name}"]`);
    const change = async (name: string, value: string) => {
      const element = field(name);
      if (!element) throw new Error(`no filter ${name}`);
      element.value = value;
      element.dispatchEvent(new Event('change', { bubbles: true }));
      await settle();
    };

    await change('labels', 'site=a,floor=2');
    let request = http.expectOne((req) => req.url === DEVICES_URL);
    expect(request.request.params.get('labels')).toBe('site=a,floor=2');
    expect(request.request.params.has('online')).toBe(false);
    request.flush({ items: [], nextCursor: null });
    await settle();
    expect(page.textContent).toContain('No device matches the filters.');

    await change('online', 'true');
    await change('type', 'thermostat');
    request = http.match((req) => req.url === DEVICES_URL).at(-1) as typeof request;
    expect(request.request.params.get('online')).toBe('true');
    expect(request.request.params.get('type')).toBe('thermostat');
    expect(request.request.params.get('labels')).toBe('site=a,floor=2');
    request.flush({ items: [], nextCursor: null });
    await settle();

    await change('labels', 'site');
    http.expectNone((req) => req.url === DEVICES_URL);
    expect(page.querySelector('.filter-error')?.textContent).toContain('key=value');
  });

  it('filters the rows as the search box is typed in', async () => {
    const search = page.querySelector<HTMLInputElement>('input[type="search"]');
    if (!search) throw new Error('no search box');
    search.value = 'BOILER';
    search.dispatchEvent(new Event('input'));
    await settle();

    expect(rows().map((row) => row.querySelector('.id')?.textContent)).toEqual(['boiler-1']);
    expect(page.textContent).toContain('1 of 2 devices match.');
  });

  it('applies live telemetry and status events', async () => {
    source.emit('telemetry', { deviceId: 'pump-1', ts: 2, values: { temperature: 30.25 } }, '1');
    source.emit('status', { deviceId: 'boiler-1', online: true, ts: 2 }, '2');
    await new Promise((resolve) => setTimeout(resolve, FLUSH_MS + 10));
    await settle();

    expect(rows()[0].textContent).toContain('temperature\u00a030.25');
    expect(count('Online')).toBe('2');
  });

  it('dims values and says so when the stream is not live', async () => {
    expect(rows()[0].classList).not.toContain('is-stale');

    source.drop();
    await settle();

    expect(rows().every((row) => row.classList.contains('is-stale'))).toBe(true);
    expect(page.textContent).toContain('values may be out of date');
  });

  it('opens a device page when a row is clicked or Enter is pressed on it', async () => {
    const navigate = jest.spyOn(TestBed.inject(Router), 'navigate').mockResolvedValue(true);
    rows()[0].dispatchEvent(new MouseEvent('click', { bubbles: true }));
    rows()[1].dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    expect(rows()[0].getAttribute('tabindex')).toBe('0');
    expect(navigate.mock.calls).toEqual([[['/devices', 'pump-1']], [['/devices', 'boiler-1']]]);
  });

  it('lets operators pick devices, one by one or all shown, and act on them in bulk', async () => {
    const boxes = () => [...page.querySelectorAll<HTMLInputElement>('input.pick')];
    const bar = () => page.querySelector('.bulk-bar');
    // A viewer may not act: no checkboxes, no bar.
    expect(boxes()).toHaveLength(0);
    setRole('operator');
    await settle();
    expect(boxes().map((b) => b.getAttribute('aria-label'))).toEqual([
      'Select every device shown',
      'Select Cellar pump',
      'Select Main boiler',
    ]);
    expect(bar()).toBeNull();

    boxes()[2].click();
    await settle();
    expect(bar()?.textContent).toContain('To 1 selected device');
    boxes()[0].click();
    await settle();
    expect(bar()?.textContent).toContain('To 2 selected devices');
    expect(boxes().every((b) => b.checked)).toBe(true);
    // A pick is not a click on the row: no device page opens.
    const navigate = jest.spyOn(TestBed.inject(Router), 'navigate').mockResolvedValue(true);
    boxes()[1].click();
    expect(navigate).not.toHaveBeenCalled();
    buttonByText(page, 'Clear selection').click();
    await settle();
    expect(boxes().some((b) => b.checked)).toBe(false);
  });

  it('offers the bulk actions for the label filter, and sends the model filter to the api', async () => {
    setRole('operator');
    const form = page.querySelector<HTMLFormElement>('form.filters');
    const change = async (name: string, value: string) => {
      const element = form?.querySelector<HTMLInputElement>(`[name="${name}"]`);
      if (!element) throw new Error(`no filter ${name}`);
      element.value = value;
      element.dispatchEvent(new Event('change', { bubbles: true }));
      await settle();
    };
    await change('labels', 'site=a');
    http.expectOne((req) => req.url === DEVICES_URL).flush({ items: [aDevice({ id: 'x' })], nextCursor: null });
    await settle();
    expect(page.querySelector('.bulk-bar')?.textContent).toContain('To every device labelled site=a');

    await change('model', 'acme.pump');
    const request = http.expectOne((req) => req.url === DEVICES_URL);
    expect(request.request.params.get('model')).toBe('acme.pump');
    expect(request.request.params.get('labels')).toBe('site=a');
    request.flush({ items: [], nextCursor: null });
  });

  it('offers "Register device" to admins only', async () => {
    const register = () =>
      [...page.querySelectorAll('button')].find((b) => b.textContent?.trim() === 'Register device');
    expect(register()).toBeUndefined();

    setRole('operator');
    await settle();
    expect(register()).toBeUndefined();

    setRole('admin');
    await settle();
    expect(register()).toBeDefined();
  });

  it('registers a device in a dialog, then loads the list again to show it', async () => {
    setRole('admin');
    await settle();
    buttonByText(page, 'Register device').click();
    await settleDialogs();
    typeInto(dialogElement().querySelector('input[formcontrolname="name"]'), 'Attic fan');
    await settleDialogs();
    buttonByText(dialogElement(), 'Register').click();
    await settleDialogs();
    http
      .expectOne((req) => req.method === 'POST' && req.url === DEVICES_URL)
      .flush({ device: aDeviceView({ id: 'fan-1', name: 'Attic fan' }), credentials: someCredentials('fan-1') });
    await settleDialogs();
    http.expectNone((req) => req.method === 'GET' && req.url === DEVICES_URL);
    // The credentials name the broker the api says devices connect to.
    http.expectOne('/api/v1/broker').flush({ url: 'mqtt://iot.example:1884', derived: true });
    await settleDialogs();
    expect(dialogElement().querySelector('.value-broker')?.textContent).toBe('mqtt://iot.example:1884');

    buttonByText(dialogElement(), 'Done, I have saved the secret').click();
    await settle();

    http
      .expectOne((req) => req.method === 'GET' && req.url === DEVICES_URL)
      .flush({
        items: [aDevice({ id: 'fan-1', name: 'Attic fan' }), aDevice({ id: 'pump-1', name: 'Cellar pump' })],
        nextCursor: null,
      });
    await settle();
    expect(rows().map((row) => row.querySelector('.id')?.textContent)).toEqual(['fan-1', 'pump-1']);
  });

  it('leaves the list alone when registering is cancelled', async () => {
    setRole('admin');
    await settle();
    buttonByText(page, 'Register device').click();
    await settleDialogs();
    buttonByText(dialogElement(), 'Cancel').click();
    await settle();

    expect(document.querySelector('mat-dialog-container')).toBeNull();
    http.expectNone(DEVICES_URL);
  });
});

describe('sharedModel', () => {
  const entry = (model: FleetEntry['model']) => ({ model }) as FleetEntry;

  it('is the model every entry has, else null', () => {
    const lamp = { id: 'acme.lamp', version: 2 };
    expect(sharedModel([entry(lamp), entry({ ...lamp })])).toEqual(lamp);
    expect(sharedModel([entry(lamp), entry({ id: 'acme.lamp', version: 3 })])).toBeNull();
    expect(sharedModel([entry(lamp), entry(null)])).toBeNull();
    expect(sharedModel([])).toBeNull();
  });
});
