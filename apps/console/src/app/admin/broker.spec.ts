import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { BrokerDirectory, brokerAddressOf, brokerUrl, MQTT_BROKER } from './broker';

describe('brokerAddressOf', () => {
  it.each([
    [
      { url: 'mqtt://192.168.1.20:1884', derived: true },
      { host: '192.168.1.20', port: 1884, guessed: true },
    ],
    [
      { url: 'mqtt://[::1]:1883', derived: true },
      { host: '[::1]', port: 1883, guessed: true },
    ],
    [
      { url: 'mqtts://iot.example.com', derived: false },
      { host: 'iot.example.com', port: 8883, scheme: 'mqtts', guessed: false },
    ],
    [
      { url: 'wss://iot.example.com/mqtt', derived: false },
      { host: 'iot.example.com', port: 443, scheme: 'wss', path: '/mqtt', guessed: false },
    ],
  ])('reads %j', (info, address) => {
    expect(brokerAddressOf(info)).toEqual(address);
  });

  it('gives up on a URL without a host or a known port', () => {
    expect(brokerAddressOf({ url: 'not a url', derived: true })).toBeUndefined();
    expect(brokerAddressOf({ url: 'foo://iot.example.com', derived: true })).toBeUndefined();
  });

  it('writes an address back as the URL it came from', () => {
    const address = brokerAddressOf({ url: 'mqtts://iot.example.com:8884', derived: false });
    expect(address && brokerUrl(address)).toBe('mqtts://iot.example.com:8884');
    const ws = brokerAddressOf({ url: 'wss://iot.example.com:8443/mqtt', derived: false });
    expect(ws && brokerUrl(ws)).toBe('wss://iot.example.com:8443/mqtt');
  });
});

describe('BrokerDirectory', () => {
  const GUESS = { host: 'page.example', port: 1883, guessed: true };
  let http: HttpTestingController;

  beforeEach(() => {
    TestBed.configureTestingModule({
      providers: [provideHttpClient(), provideHttpClientTesting(), { provide: MQTT_BROKER, useValue: GUESS }],
    });
    http = TestBed.inject(HttpTestingController);
  });

  afterEach(() => http.verify());

  it('shows the guess until the api answers, then what the api says', () => {
    const directory = TestBed.inject(BrokerDirectory);
    expect(directory.address()).toEqual(GUESS);
    http.expectOne('/api/v1/broker').flush({ url: 'mqtt://iot.example.com:1884', derived: false });
    expect(directory.address()).toEqual({ host: 'iot.example.com', port: 1884, guessed: false });
  });

  it('keeps the guess when the api cannot answer', () => {
    const directory = TestBed.inject(BrokerDirectory);
    http.expectOne('/api/v1/broker').flush({ message: 'down' }, { status: 503, statusText: 'Unavailable' });
    expect(directory.address()).toEqual(GUESS);
  });
});
