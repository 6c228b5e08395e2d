import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import type { DeviceListItem } from '@iot/protocol';
import { aDevice } from '../testing/factories';
import { DevicesApi } from './devices-api';

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

  it('fails instead of looping when the api repeats a cursor', () => {
    let error: unknown;
    sut.listAll().subscribe({ error: (e: unknown) => (error = e) });

    http.expectOne((req) => !req.params.has('cursor')).flush({ items: [], nextCursor: 'same' });
    http.expectOne((req) => req.params.get('cursor') === 'same').flush({ items: [], nextCursor: 'same' });

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/repeated a cursor/);
  });
});
