import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import type { DeviceModel } from '@iot/protocol';
import { DeviceModels, MAX_CACHED_DEVICES, MODEL_FETCH_CONCURRENCY, MODEL_TTL_MS } from './device-models';

const aModel = (id: string, version = 1): DeviceModel => ({ id, version });

describe('DeviceModels', () => {
  let sut: DeviceModels;
  let http: HttpTestingController;
  /** The model requests sent since the last call (matching takes them off the testing backend's list). */
  const pending = () => http.match((req) => req.url.endsWith('/model'));

  beforeEach(() => {
    TestBed.configureTestingModule({ providers: [provideHttpClient(), provideHttpClientTesting()] });
    sut = TestBed.inject(DeviceModels);
    http = TestBed.inject(HttpTestingController);
  });

  it('asks for a device model once, then answers from the cache', () => {
    expect(sut.model('pump-1')).toBeUndefined();
    sut.request('pump-1');
    sut.request('pump-1');
    const [req, ...more] = pending();
    expect(more).toHaveLength(0);
    expect(req.request.url).toBe('/api/v1/devices/pump-1/model');
    req.flush({ model: aModel('acme.pump'), misfits: {} });
    expect(sut.model('pump-1')).toEqual(aModel('acme.pump'));
    sut.request('pump-1');
    expect(pending()).toHaveLength(0);
  });

  it('holds one copy per model id@version, and null for a device without a model or whose request failed', () => {
    sut.put('a', aModel('acme.pump', 2));
    sut.put('b', { ...aModel('acme.pump', 2) });
    expect(sut.model('a')).toBe(sut.model('b'));
    sut.request('c');
    sut.request('d');
    const [c, d] = pending();
    c.flush({ model: null, misfits: {} });
    d.flush('', { status: 500, statusText: 'boom' });
    expect(sut.model('c')).toBeNull();
    expect(sut.model('d')).toBeNull();
  });

  it('runs a few requests at a time and queues the rest', () => {
    for (let i = 0; i < MODEL_FETCH_CONCURRENCY + 3; i++) sut.request(`dev-${i}`);
    const first = pending();
    expect(first).toHaveLength(MODEL_FETCH_CONCURRENCY);
    first[0].flush({ model: null, misfits: {} });
    const second = pending();
    expect(second.map((r) => r.request.url)).toEqual([`/api/v1/devices/dev-${MODEL_FETCH_CONCURRENCY}/model`]);
    for (const req of [...first.slice(1), ...second]) req.flush({ model: null, misfits: {} });
    const third = pending();
    expect(third).toHaveLength(2);
    for (const req of third) req.flush({ model: null, misfits: {} });
    expect(pending()).toHaveLength(0);
  });

  it('forgets the oldest devices past its bound, and asks again once an answer is old', () => {
    for (let i = 0; i <= MAX_CACHED_DEVICES; i++) sut.put(`dev-${i}`, null, 0);
    expect(sut.model('dev-0')).toBeUndefined();
    expect(sut.model(`dev-${MAX_CACHED_DEVICES}`)).toBeNull();
    sut.request('dev-1', MODEL_TTL_MS - 1);
    expect(pending()).toHaveLength(0);
    sut.request('dev-1', MODEL_TTL_MS);
    const again = pending();
    expect(again).toHaveLength(1);
    again[0].flush({ model: null, misfits: {} });
  });

  afterEach(() => http.verify());

  it("takes the fleet list's model refs: one request per model id@version, none per device with a ref", () => {
    sut.assign('a', { id: 'acme.pump', version: 2 });
    sut.assign('b', { id: 'acme.pump', version: 2 });
    sut.assign('c', null);
    expect(sut.model('a')).toBeUndefined();
    // Without a ref the device may yet announce one: its row asks the device itself.
    expect(sut.model('c')).toBeUndefined();
    // The rows ask too: the model being fetched by its ref, no device request goes out for a or b.
    for (const id of ['a', 'b', 'c']) sut.request(id);
    const [asked, ...others] = pending();
    expect(others).toHaveLength(0);
    expect(asked.request.url).toBe('/api/v1/devices/c/model');
    asked.flush({ model: null, misfits: {} });
    expect(sut.model('c')).toBeNull();
    const [req, ...more] = http.match((r) => r.url.includes('/models/'));
    expect(more).toHaveLength(0);
    expect(req.request.url).toBe('/api/v1/models/acme.pump/versions/2');
    req.flush(aModel('acme.pump', 2));
    expect(sut.model('a')).toEqual(aModel('acme.pump', 2));
    expect(sut.model('b')).toBe(sut.model('a'));
    sut.assign('d', { id: 'acme.pump', version: 2 });
    expect(http.match(() => true)).toHaveLength(0);
  });

  it('falls back to the device request when a model ref could not be fetched', () => {
    sut.assign('a', { id: 'acme.pump', version: 3 });
    http.match((r) => r.url.includes('/models/'))[0].flush('', { status: 500, statusText: 'boom' });
    sut.request('a');
    expect(pending().map((r) => r.request.url)).toEqual(['/api/v1/devices/a/model']);
  });
});
