import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting, type TestRequest } from '@angular/common/http/testing';
import { signal } from '@angular/core';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import type { DeviceModel, LatestValues } from '@iot/protocol';
import { Subject } from 'rxjs';
import uPlot from 'uplot';
import { SAVE_FILE } from '../core/browser';
import { type StreamMessage, StreamService } from '../core/stream/stream.service';
import { resetMessage, telemetryMessage } from '../core/testing/factories';
import { fakeStream } from '../core/testing/fake-stream';
import { strictMock } from '../core/testing/strict-mock';
import { Clock } from '../core/time/clock';
import type { DeviceLiveState } from '../fleet/device-state';
import { DeviceModelStore } from './device-model.store';
import { DeviceStore } from './device.store';
import { RESIZE_OBSERVER_FACTORY } from './telemetry-chart';
import { TelemetryCharts } from './telemetry-charts';
import { TelemetryChartsStore } from './telemetry-charts.store';

/** What the specs see of a uPlot: jsdom has no canvas, so the module is replaced by this recorder. */
interface FakeChart {
  opts: uPlot.Options;
  data: uPlot.AlignedData;
  target: HTMLElement;
  width: number;
  destroyed: boolean;
  sizes: Array<{ width: number; height: number }>;
}

jest.mock('uplot', () => {
  class MockUPlot {
    static readonly instances: MockUPlot[] = [];
    width: number;
    destroyed = false;
    sizes: Array<{ width: number; height: number }> = [];
    constructor(
      readonly opts: { width: number },
      public data: unknown,
      readonly target: HTMLElement,
    ) {
      this.width = opts.width;
      target.appendChild(document.createElement('div')).className = 'uplot';
      MockUPlot.instances.push(this);
    }
    static readonly paths = { stepped: (opts: unknown) => ({ stepped: opts }) };
    select = { left: 0, top: 0, width: 0, height: 0 };
    /** x pixels map to ms as 1:1000 from 0, for zoom specs. */
    posToVal(px: number): number {
      return px * 1000;
    }
    setSelect(select: { left: number; width: number }): void {
      this.select = { ...this.select, ...select };
    }
    setData(data: unknown): void {
      this.data = data;
    }
    setSize(size: { width: number; height: number }): void {
      this.width = size.width;
      this.sizes.push(size);
    }
    destroy(): void {
      this.destroyed = true;
      this.target.replaceChildren();
    }
  }
  return { __esModule: true, default: MockUPlot };
});

const charts = (uPlot as unknown as { instances: FakeChart[] }).instances;
const HISTORY_URL = '/api/v1/devices/boiler-1/telemetry';

describe('TelemetryCharts', () => {
  let fixture: ComponentFixture<TelemetryCharts>;
  let page: HTMLElement;
  let http: HttpTestingController;
  let messages: Subject<StreamMessage>;
  let live: ReturnType<typeof signal<DeviceLiveState | null>>;
  let now: ReturnType<typeof signal<number>>;
  let resize: (width: number) => void;
  let observed: Element[];
  let disconnected: boolean;
  let start: number;
  let saved: Array<{ name: string; type: string; text: string }>;

  async function render(latest: LatestValues | null, model: DeviceModel | null = null): Promise<void> {
    start = Date.now();
    messages = new Subject();
    live = signal<DeviceLiveState | null>(latest && { online: true, lastSeen: start, latest });
    now = signal(start);
    observed = [];
    disconnected = false;
    saved = [];
    const modelState = signal(model);
    TestBed.configureTestingModule({
      imports: [TelemetryCharts],
      providers: [
        provideHttpClient(),
        provideHttpClientTesting(),
        TelemetryChartsStore,
        { provide: StreamService, useValue: fakeStream(messages) },
        { provide: DeviceStore, useValue: strictMock<DeviceStore>({ live }, 'DeviceStore') },
        {
          provide: DeviceModelStore,
          useValue: strictMock<DeviceModelStore>(
            { model: modelState, telemetry: (key: string) => modelState()?.telemetry?.[key] },
            'DeviceModelStore',
          ),
        },
        {
          provide: SAVE_FILE,
          useValue: (name: string, type: string, text: string) => saved.push({ name, type, text }),
        },
        { provide: Clock, useValue: strictMock<Clock>({ now }, 'Clock') },
        {
          provide: RESIZE_OBSERVER_FACTORY,
          useValue: (onResize: (width: number) => void) => {
            resize = onResize;
            return { observe: (target: Element) => observed.push(target), disconnect: () => (disconnected = true) };
          },
        },
      ],
    });
    http = TestBed.inject(HttpTestingController);
    TestBed.inject(TelemetryChartsStore).setModel(model);
    TestBed.inject(TelemetryChartsStore).open('boiler-1');
    fixture = TestBed.createComponent(TelemetryCharts);
    page = fixture.nativeElement as HTMLElement;
    await fixture.whenStable();
  }

  const history = (): TestRequest => http.expectOne((req) => req.url === HISTORY_URL);
  const text = () => page.textContent?.replace(/\s+/g, ' ') ?? '';
  const chartOf = (key: string) =>
    [...page.querySelectorAll('iot-telemetry-chart')].find((c) => c.querySelector('.chart-key')?.textContent === key);
  const toggle = (label: string) =>
    [...page.querySelectorAll<HTMLButtonElement>('mat-button-toggle button')].find(
      (b) => b.textContent?.trim() === label,
    );

  beforeEach(() => charts.splice(0));

  afterEach(() => {
    http.verify();
    TestBed.resetTestingModule();
  });

  it('draws one chart per numeric key from the history joined to the stream', async () => {
    await render({
      temperature: { ts: start, value: 61.5 },
      pressure: { ts: start, value: 2 },
      mode: { ts: start, value: 'eco' },
      pump: { ts: start, value: true },
    });
    messages.next(telemetryMessage('boiler-1', start - 1_000, { temperature: 61 }));
    history().flush({
      deviceId: 'boiler-1',
      series: { temperature: [[start - 2_000, 60]], pressure: [[start - 2_000, 2]], mode: [[start - 2_000, 'eco']] },
    });
    await fixture.whenStable();

    expect(charts.map((c) => c.opts.series[1].label)).toEqual(['pressure', 'temperature']);
    const temperature = charts[1];
    expect(temperature.data).toEqual([
      [start - 2_000, start - 1_000],
      [60, 61],
    ]);
    expect(temperature.opts.ms).toBe(1);
    expect(text()).toContain('Not charted: mode, pump');

    const plot = chartOf('temperature')?.querySelector('[role="img"]');
    expect(plot?.getAttribute('aria-label')).toBe('Chart of temperature over the last 5 minutes');
    const summary = page.querySelector(`#${plot?.getAttribute('aria-describedby')}`);
    expect(summary?.classList).toContain('cdk-visually-hidden');
    expect(summary?.textContent).toContain('Latest 61 at');
    expect(summary?.textContent).toContain('Lowest 60, highest 61, over 2 points.');
  });

  it('appends live points, and moves the window on with the clock', async () => {
    await render({ temperature: { ts: start, value: 1 } });
    history().flush({ deviceId: 'boiler-1', series: { temperature: [[start - 4 * 60_000, 1]] } });
    await fixture.whenStable();
    const [chart] = charts;

    messages.next(telemetryMessage('boiler-1', start, { temperature: 2 }));
    await fixture.whenStable();
    expect(chart.data).toEqual([
      [start - 4 * 60_000, start],
      [1, 2],
    ]);

    now.set(start + 2 * 60_000);
    await fixture.whenStable();
    // The first point has left the 5-minute window.
    expect(chart.data).toEqual([[start], [2]]);
    expect(charts).toHaveLength(1);
  });

  it('says so when the device has no telemetry, and draws nothing', async () => {
    await render({});
    history().flush({ deviceId: 'boiler-1', series: {} });
    await fixture.whenStable();

    expect(text()).toContain('No telemetry yet');
    expect(charts).toHaveLength(0);
  });

  it('shows nothing about keys before the latest values are known', async () => {
    await render(null);
    history().flush({ deviceId: 'boiler-1', series: {} });
    await fixture.whenStable();
    expect(text()).not.toContain('No telemetry yet');
    expect(page.querySelector('iot-telemetry-chart')).toBeNull();
  });

  it('says when a key has no points in the range', async () => {
    await render({ temperature: { ts: start - 3_600_000, value: 1 } });
    history().flush({ deviceId: 'boiler-1', series: { temperature: [] } });
    await fixture.whenStable();
    expect(chartOf('temperature')?.textContent).toContain('No points in this range.');
  });

  it('shows a history error inline and retries', async () => {
    await render({ temperature: { ts: start, value: 1 } });
    history().flush({ message: 'bucket too small' }, { status: 400, statusText: 'Bad Request' });
    await fixture.whenStable();

    const alert = page.querySelector('[role="alert"]');
    expect(alert?.textContent).toContain('Could not load the history: bucket too small');
    alert?.querySelector('button')?.click();
    history().flush({ deviceId: 'boiler-1', series: { temperature: [[start, 1]] } });
    await fixture.whenStable();

    expect(page.querySelector('[role="alert"]')).toBeNull();
    expect(charts[0].data).toEqual([[start], [1]]);
  });

  it('offers the ranges as a labelled toggle group, and loads averages for 24 h', async () => {
    await render({ temperature: { ts: start, value: 1 } });
    history().flush({ deviceId: 'boiler-1', series: {} });
    await fixture.whenStable();

    const group = page.querySelector('mat-button-toggle-group');
    const label = page.querySelector(`#${group?.getAttribute('aria-labelledby')}`);
    expect(label?.textContent).toBe('Time range');
    expect([...page.querySelectorAll('mat-button-toggle button')].map((b) => b.textContent?.trim())).toEqual([
      'Live',
      '15 min',
      '1 h',
      '24 h',
      '7 d',
    ]);
    expect(toggle('Live')?.getAttribute('aria-pressed') ?? toggle('Live')?.getAttribute('aria-checked')).toBe('true');

    toggle('24 h')?.click();
    await fixture.whenStable();
    const requests = http.match((req) => req.url === HISTORY_URL);
    expect(requests.map((r) => r.request.params.get('bucket'))).toEqual([null, '5m']);
    for (const request of requests) request.flush({ deviceId: 'boiler-1', series: {} });
    await fixture.whenStable();

    expect(chartOf('temperature')?.querySelector('[role="img"]')?.getAttribute('aria-label')).toBe(
      'Chart of temperature over the last 24 hours, in 5-minute averages',
    );
  });

  it('reloads the history after a stream reset', async () => {
    await render({ temperature: { ts: start, value: 1 } });
    history().flush({ deviceId: 'boiler-1', series: {} });
    messages.next(resetMessage());
    history().flush({ deviceId: 'boiler-1', series: { temperature: [[start, 1]] } });
    await fixture.whenStable();
    expect(charts[0].data).toEqual([[start], [1]]);
  });

  it('follows the width of its container', async () => {
    await render({ temperature: { ts: start, value: 1 } });
    history().flush({ deviceId: 'boiler-1', series: {} });
    await fixture.whenStable();

    const [chart] = charts;
    expect(observed).toEqual([chartOf('temperature')?.querySelector('.plot')]);
    resize(512.6);
    resize(0); // hidden: keep the last size
    expect(chart.sizes).toEqual([{ width: 512, height: 160 }]);
  });

  it('destroys the uPlot instance and stops observing when it goes', async () => {
    await render({ temperature: { ts: start, value: 1 } });
    history().flush({ deviceId: 'boiler-1', series: {} });
    await fixture.whenStable();

    fixture.destroy();
    expect(charts[0].destroyed).toBe(true);
    expect(disconnected).toBe(true);
  });

  it('destroys the chart of a key that stops being a number', async () => {
    await render({ temperature: { ts: start, value: 1 } });
    history().flush({ deviceId: 'boiler-1', series: {} });
    await fixture.whenStable();

    live.set({ online: true, lastSeen: start, latest: { temperature: { ts: start + 1, value: 'n/a' } } });
    await fixture.whenStable();
    expect(charts[0].destroyed).toBe(true);
    expect(text()).toContain('Not charted: temperature');
  });

  describe('with a device model', () => {
    const MODEL: DeviceModel = {
      id: 'acme.thermostat',
      version: 1,
      telemetry: {
        temperature: { type: 'number', title: 'Temperature', unit: '°C', precision: 1 },
        heating: { type: 'boolean' },
        mode: { type: 'enum', values: ['eco', 'comfort'] },
        note: { type: 'string' },
      },
    };

    it('titles charts with the unit, charts booleans and enums as steps, and leaves strings out', async () => {
      await render(
        {
          temperature: { ts: start, value: 21 },
          heating: { ts: start, value: true },
          mode: { ts: start, value: 'comfort' },
          note: { ts: start, value: 'hi' },
        },
        MODEL,
      );
      history().flush({
        deviceId: 'boiler-1',
        series: {
          temperature: [[start - 2_000, 20.04]],
          heating: [
            [start - 2_000, false],
            [start - 1_000, true],
          ],
          mode: [[start - 1_000, 'comfort']],
        },
      });
      await fixture.whenStable();

      expect([...page.querySelectorAll('.chart-key')].map((k) => k.textContent?.trim())).toEqual([
        'heating',
        'mode',
        'Temperature (°C)',
      ]);
      expect(text()).toContain('Not charted: note');
      const [heating, mode, temperature] = charts;
      expect(heating.data).toEqual([
        [start - 2_000, start - 1_000],
        [0, 1],
      ]);
      expect(heating.opts.series[1].paths).toEqual({ stepped: { align: 1 } });
      expect(heating.opts.series[1].spanGaps).toBe(false);
      expect(mode.data).toEqual([[start - 1_000], [1]]);
      expect(temperature.opts.series[1].paths).toBeUndefined();
      const axis = heating.opts.axes?.[1];
      const splits = (axis?.splits as () => number[])();
      expect((axis?.values as (u: unknown, s: number[]) => string[])(null, splits)).toEqual(['off', 'on']);
      expect(chartOf('Temperature (°C)')?.querySelector('.chart-latest')?.textContent).toBe('20.0\u00a0°C');
    });

    it('exports the history shown as CSV', async () => {
      await render({ temperature: { ts: start, value: 21 }, heating: { ts: start, value: true } }, MODEL);
      history().flush({
        deviceId: 'boiler-1',
        series: { temperature: [[start - 2_000, 20.5]], heating: [[start - 1_000, true]] },
      });
      await fixture.whenStable();
      [...page.querySelectorAll<HTMLButtonElement>('button')]
        .find((b) => b.textContent?.includes('Export CSV'))
        ?.click();

      expect(saved).toHaveLength(1);
      expect(saved[0].name).toMatch(/^boiler-1-telemetry-.*\.csv$/);
      expect(saved[0].type).toBe('text/csv;charset=utf-8');
      expect(saved[0].text.split('\r\n')).toEqual([
        'time,key,value,unit',
        `${new Date(start - 2_000).toISOString()},temperature,20.5,°C`,
        `${new Date(start - 1_000).toISOString()},heating,true,`,
        '',
      ]);
    });
  });

  it('zooms to a custom range when a span is dragged on a chart, and goes back to live', async () => {
    await render({ temperature: { ts: start, value: 1 } });
    history().flush({ deviceId: 'boiler-1', series: {} });
    await fixture.whenStable();

    const [chart] = charts as unknown as Array<{ select: { left: number; width: number } } & FakeChart>;
    chart.select = { ...chart.select, left: 1_000, width: 600 };
    chart.opts.hooks?.setSelect?.forEach((hook) => hook(chart as unknown as uPlot));
    await fixture.whenStable();

    const request = history();
    expect(request.request.params.get('from')).toBe('1000000');
    expect(request.request.params.get('to')).toBe('1600000');
    request.flush({ deviceId: 'boiler-1', series: { temperature: [[1_200_000, 5]] } });
    await fixture.whenStable();
    expect(page.querySelector('.custom-note')?.textContent).toContain('Showing');
    expect(charts[0].data).toEqual([[1_200_000], [5]]);
    // A fixed range: live points do not move it.
    messages.next(telemetryMessage('boiler-1', start, { temperature: 9 }));
    await fixture.whenStable();
    expect(charts[0].data).toEqual([[1_200_000], [5]]);

    [...page.querySelectorAll<HTMLButtonElement>('.custom-note button')][0]?.click();
    await fixture.whenStable();
    history().flush({ deviceId: 'boiler-1', series: {} });
    expect(page.querySelector('.custom-note')).toBeNull();
  });

  it('takes a custom range typed in, and refuses one that ends before it starts', async () => {
    await render({ temperature: { ts: start, value: 1 } });
    history().flush({ deviceId: 'boiler-1', series: {} });
    await fixture.whenStable();
    [...page.querySelectorAll<HTMLButtonElement>('button')]
      .find((b) => b.textContent?.includes('Custom range'))
      ?.click();
    await fixture.whenStable();
    const [from, to] = [...page.querySelectorAll<HTMLInputElement>('.custom-form input')];
    const set = (input: HTMLInputElement, value: string) => {
      input.value = value;
      input.dispatchEvent(new Event('input'));
    };
    set(from, '2026-01-02T10:00');
    set(to, '2026-01-02T09:00');
    page.querySelector('.custom-form')?.dispatchEvent(new Event('submit'));
    await fixture.whenStable();
    expect(page.querySelector('.custom-form [role="alert"]')?.textContent).toContain('start before the end');

    set(to, '2026-01-03T10:00');
    page.querySelector('.custom-form')?.dispatchEvent(new Event('submit'));
    await fixture.whenStable();
    // A day: the api's 5-minute averages over all of it.
    const request = history();
    expect(request.request.params.get('bucket')).toBe('5m');
    expect(request.request.params.get('from')).toBe(String(new Date('2026-01-02T10:00').getTime()));
    request.flush({ deviceId: 'boiler-1', series: {} });
  });
});
