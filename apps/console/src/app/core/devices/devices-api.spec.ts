import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import type { CreateDeviceResponse, DeviceCredentials, DeviceListItem } from '@iot/protocol';
import { aDevice } from '../testing/factories';
import { DEVICES_URL, DevicesApi } from './devices-api';

describe('DevicesApi', () => {
  let sut: DevicesApi;
  let http: HttpTestingController;

  beforeEach(() => {
    TestBed.configureTestingModule({ providers: [provideHttpClient(), provideHttpClientTesting()] });
    sut = TestBed.inject(DevicesApi);
    http = TestBed.inject(HttpTestingController);
  });

  afterEach(() => http.verify());

  it('follows nextCursor until the last page and emits every device once', () => {
    let result: DeviceListItem[] | undefined;
    sut.listAll().subscribe((items) => (result = items));

    const first = http.expectOne((req) => req.url === '/api/v1/devices' && !req.params.has('cursor'));
    expect(first.request.params.get('limit')).toBe('1000');
    expect(first.request.withCredentials).toBe(true);
    first.flush({ items: [aDevice({ id: 'a' }), aDevice({ id: 'b' })], nextCursor: 'c1' });
    expect(result).toBeUndefined();

    const second = http.expectOne((req) => req.params.get('cursor') === 'c1');
    expect(second.request.params.get('limit')).toBe('1000');
    second.flush({ items: [aDevice({ id: 'c' })], nextCursor: null });

    expect(result?.map((d) => d.id)).toEqual(['a', 'b', 'c']);
  });

  it('sends each filter given, the model too, and leaves empty ones out', () => {
    sut.listAll({ labels: ' site=a ', type: '', online: false, model: 'acme.lamp' }).subscribe();
    const req = http.expectOne((r) => r.url === '/api/v1/devices');
    expect(req.request.params.keys().sort()).toEqual(['labels', 'limit', 'model', 'online']);
    expect(req.request.params.get('labels')).toBe('site=a');
    expect(req.request.params.get('model')).toBe('acme.lamp');
    expect(req.request.params.get('online')).toBe('false');
    req.flush({ items: [], nextCursor: null });
  });

  it('fails instead of looping when the api repeats a cursor', () => {
    let error: unknown;
    sut.listAll().subscribe({ error: (e: unknown) => (error = e) });

    http.expectOne((req) => !req.params.has('cursor')).flush({ items: [], nextCursor: 'same' });
    http.expectOne((req) => req.params.get('cursor') === 'same').flush({ items: [], nextCursor: 'same' });

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/repeated a cursor/);
  });

  it('registers a device with the body given and hands back the one-time credentials', () => {
    let result: CreateDeviceResponse | undefined;
    sut.create({ id: 'boiler-1', name: 'Main boiler', labels: { site: 'cellar' } }).subscribe((r) => (result = r));

    const request = http.expectOne(DEVICES_URL);
    expect(request.request.method).toBe('POST');
    expect(request.request.withCredentials).toBe(true);
    expect(request.request.body).toEqual({ id: 'boiler-1', name: 'Main boiler', labels: { site: 'cellar' } });
    const answer: CreateDeviceResponse = {
      device: {
        id: 'boiler-1',
        name: 'Main boiler',
        type: null,
        labels: {},
        online: false,
        lastSeen: null,
        createdAt: 1,
      },
      credentials: { username: 'boiler-1', password: 's3cret' },
    };
    request.flush(answer, { status: 201, statusText: 'Created' });

    expect(result).toEqual(answer);
  });

  it('passes a 409 for an existing id on to the caller', () => {
    let status: number | undefined;
    sut.create({ id: 'boiler-1', name: 'x' }).subscribe({ error: (e: { status: number }) => (status = e.status) });

    http
      .expectOne(DEVICES_URL)
      .flush(
        { statusCode: 409, error: 'Conflict', message: 'device boiler-1 exists' },
        { status: 409, statusText: 'Conflict' },
      );

    expect(status).toBe(409);
  });

  it("rotates a secret with a POST to the device's credentials, the id encoded", () => {
    let result: DeviceCredentials | undefined;
    sut.rotateCredentials('a b').subscribe((r) => (result = r));

    const request = http.expectOne('/api/v1/devices/a%20b/credentials');
    expect(request.request.method).toBe('POST');
    expect(request.request.withCredentials).toBe(true);
    request.flush({ username: 'a b', password: 'new' }, { status: 201, statusText: 'Created' });

    expect(result).toEqual({ username: 'a b', password: 'new' });
  });

  it('deletes a device and emits once on the 204', () => {
    const emitted: unknown[] = [];
    let completed = false;
    sut.remove('pump-1').subscribe({ next: (v) => emitted.push(v), complete: () => (completed = true) });

    const request = http.expectOne('/api/v1/devices/pump-1');
    expect(request.request.method).toBe('DELETE');
    expect(request.request.withCredentials).toBe(true);
    request.flush(null, { status: 204, statusText: 'No Content' });

    expect(emitted).toEqual([undefined]);
    expect(completed).toBe(true);
  });
});
