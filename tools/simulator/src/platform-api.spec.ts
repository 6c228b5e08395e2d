import { startFakeApi, type FakeApi } from './testing/fake-api';
import { ApiRequestError, PlatformApi } from './platform-api';

const ADMIN = { username: 'admin', password: 'admin-password' };

describe('PlatformApi (against a fake api over HTTP)', () => {
  let api: FakeApi;
  let secrets: Map<string, string>;

  beforeEach(async () => {
    secrets = new Map();
    api = await startFakeApi(ADMIN, (id, secret) => secrets.set(id, secret));
  });

  afterEach(() => api.close());

  it('logs in, then creates a device that does not exist, with a bearer token', async () => {
    const sut = new PlatformApi(api.url);
    await sut.login(ADMIN.username, ADMIN.password);

    const result = await sut.provisionDevice({
      id: 'sim-meter-001',
      name: 'Meter',
      type: 'meter',
      labels: { simulated: 'true' },
    });

    expect(result).toEqual({
      outcome: 'created',
      credentials: { username: 'sim-meter-001', password: secrets.get('sim-meter-001') },
    });
    expect(api.devices.get('sim-meter-001')).toMatchObject({
      name: 'Meter',
      type: 'meter',
      labels: { simulated: 'true' },
    });
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /auth/login',
      'GET /devices/sim-meter-001',
      'POST /devices',
    ]);
    expect(api.requests[0].body).toEqual(ADMIN);
    expect(api.requests.slice(1).every((r) => r.authorization?.startsWith('Bearer '))).toBe(true);
  });

  it('rotates the secret of a device that exists', async () => {
    const sut = new PlatformApi(api.url);
    await sut.login(ADMIN.username, ADMIN.password);
    const first = await sut.provisionDevice({ id: 'sim-air-001', name: 'Air' });

    const second = await sut.provisionDevice({ id: 'sim-air-001', name: 'Air' });

    expect(second.outcome).toBe('rotated');
    expect(second.credentials.password).not.toBe(first.credentials.password);
    expect(second.credentials.password).toBe(secrets.get('sim-air-001'));
    expect(api.requests.slice(-2).map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /devices/sim-air-001',
      'POST /devices/sim-air-001/credentials',
    ]);
  });

  it('rotates when someone else created the device between the GET and the POST', async () => {
    const answers: Array<[number, unknown]> = [
      [201, { accessToken: 't' }],
      [404, { statusCode: 404, message: 'no device' }],
      [409, { statusCode: 409, message: 'exists' }],
      [201, { username: 'd1', password: 'fresh' }],
    ];
    const fakeFetch = jest.fn(async () => {
      const [status, json] = answers.shift() ?? [500, {}];
      return new Response(JSON.stringify(json), { status });
    });
    const sut = new PlatformApi('http://api.invalid', fakeFetch as unknown as typeof fetch);
    await sut.login('admin', 'x');

    await expect(sut.provisionDevice({ id: 'd1', name: 'D1' })).resolves.toEqual({
      outcome: 'rotated',
      credentials: { username: 'd1', password: 'fresh' },
    });
  });

  it('explains a refused login', async () => {
    const sut = new PlatformApi(api.url);

    await expect(sut.login('admin', 'wrong')).rejects.toThrow('login as "admin" refused: wrong username or password');
  });

  it('explains an api that is not running', async () => {
    const url = api.url;
    await api.close();
    const sut = new PlatformApi(url);

    const failure = sut.login('admin', 'x');

    await expect(failure).rejects.toThrow(ApiRequestError);
    await expect(failure).rejects.toThrow(/cannot reach the api at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    api = await startFakeApi(ADMIN, () => undefined);
  });

  it('refuses to register before logging in', async () => {
    await expect(new PlatformApi(api.url).provisionDevice({ id: 'x', name: 'x' })).rejects.toThrow('log in first');
  });
});
