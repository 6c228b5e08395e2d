import {
  API_BASE_PATH,
  type ApiError,
  type CreateDeviceRequest,
  type CreateDeviceResponse,
  type DeviceCredentials,
  type LoginRequest,
  type LoginResponse,
  type Role,
} from '@iot/protocol';

/** How long one HTTP request may take. */
const REQUEST_TIMEOUT_MS = 15_000;

/** An HTTP answer the simulator cannot go on with. */
export class ApiRequestError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

/** What {@link PlatformApi.provisionDevice} did and the device secret to connect with. */
export interface ProvisionedDevice {
  /**
   * `created` for a new device, `kept` for one that exists and whose stored secret is used as it is,
   * `rotated` for one that existed without a stored secret (its old secret no longer works).
   */
  outcome: 'created' | 'kept' | 'rotated';
  credentials: DeviceCredentials;
}

/**
 * The few calls of the platform's HTTP API the simulator needs, over the global
 * `fetch`: log in, then register each device or rotate its secret.
 */
export class PlatformApi {
  private token: string | undefined;

  /** `baseUrl` is the api's origin, such as `http://127.0.0.1:3000`. */
  constructor(
    private readonly baseUrl: string,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  /** `POST /auth/login`; keeps the access token for the calls after it. */
  async login(username: string, password: string): Promise<void> {
    const body: LoginRequest = { username, password };
    const { status, json } = await this.request('POST', '/auth/login', body, false);
    if (status === 401)
      throw new ApiRequestError(`login as ${JSON.stringify(username)} refused: ${message(json)}`, status);
    expectStatus('login', status, json, [200, 201]);
    const token = (json as Partial<LoginResponse> | undefined)?.accessToken;
    if (typeof token !== 'string' || token.length === 0) {
      throw new ApiRequestError('login answered without an accessToken', status);
    }
    this.token = token;
  }

  /** `POST /auth/logout`: ends the session of the token in use. */
  async logout(): Promise<void> {
    if (this.token === undefined) return;
    await this.request('POST', '/auth/logout');
    this.token = undefined;
  }

  /**
   * Gives user `username` this password and role: `POST /users`, or on 409 (it
   * exists) `PATCH /users/{username}`, which also ends its sessions.
   */
  async setUser(username: string, password: string, role: Role): Promise<'created' | 'updated'> {
    const created = await this.request('POST', '/users', { username, password, role });
    if (created.status !== 409) {
      expectStatus(`creating user ${username}`, created.status, created.json, [200, 201]);
      return 'created';
    }
    const updated = await this.request('PATCH', `/users/${encodeURIComponent(username)}`, { password, role });
    expectStatus(`updating user ${username}`, updated.status, updated.json, [200]);
    return 'updated';
  }

  /** `POST /devices/{id}/credentials`: a new secret for the device; the old one stops working. */
  async rotateSecret(deviceId: string): Promise<DeviceCredentials> {
    const rotated = await this.request('POST', `/devices/${encodeURIComponent(deviceId)}/credentials`);
    expectStatus(`rotating the secret of device ${deviceId}`, rotated.status, rotated.json, [200, 201]);
    return checkCredentials(rotated.json, deviceId);
  }

  /**
   * Makes sure device `request.id` exists and returns a secret for it:
   * `GET /devices/{id}`; if 404, `POST /devices` (201 with the credentials);
   * if it exists and `storedSecret` is given, that secret as it is (no request more);
   * otherwise (or on a 409 race) `POST /devices/{id}/credentials`, which rotates the secret.
   */
  async provisionDevice(
    request: CreateDeviceRequest & { id: string },
    storedSecret?: string,
  ): Promise<ProvisionedDevice> {
    const path = `/devices/${encodeURIComponent(request.id)}`;
    const existing = await this.request('GET', path);
    if (existing.status === 404) {
      const created = await this.request('POST', '/devices', request);
      if (created.status !== 409) {
        expectStatus(`creating device ${request.id}`, created.status, created.json, [200, 201]);
        const credentials = (created.json as Partial<CreateDeviceResponse> | undefined)?.credentials;
        return { outcome: 'created', credentials: checkCredentials(credentials, request.id) };
      }
      // Someone else created it in between: fall through to rotating its secret.
    } else {
      expectStatus(`reading device ${request.id}`, existing.status, existing.json, [200]);
      if (storedSecret !== undefined) {
        return { outcome: 'kept', credentials: { username: request.id, password: storedSecret } };
      }
    }
    return { outcome: 'rotated', credentials: await this.rotateSecret(request.id) };
  }

  private async request(
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    body?: unknown,
    authenticated = true,
  ): Promise<{ status: number; json: unknown }> {
    if (authenticated && this.token === undefined) throw new Error('log in first');
    const url = new URL(`${API_BASE_PATH}${path}`, this.baseUrl);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (authenticated) headers['authorization'] = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await this.fetchFn(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new ApiRequestError(
        `cannot reach the api at ${url.origin} (${cause}): is it running? (see --api)`,
        undefined,
      );
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: response.status, json };
  }
}

function expectStatus(what: string, status: number, json: unknown, expected: number[]): void {
  if (expected.includes(status)) return;
  const hint = status === 401 || status === 403 ? ' (the simulator needs an admin user)' : '';
  throw new ApiRequestError(`${what} failed with HTTP ${status}: ${message(json)}${hint}`, status);
}

/** The `message` of an {@link ApiError} body, or the body itself. */
function message(json: unknown): string {
  if (typeof json === 'string') return json.slice(0, 200) || 'no body';
  const text = (json as Partial<ApiError> | undefined)?.message as unknown;
  if (typeof text === 'string') return text;
  if (Array.isArray(text)) return text.join('; ');
  return JSON.stringify(json) ?? 'no body';
}

function checkCredentials(value: unknown, deviceId: string): DeviceCredentials {
  const credentials = value as Partial<DeviceCredentials> | undefined;
  if (typeof credentials?.password !== 'string' || credentials.password.length === 0) {
    throw new ApiRequestError(`the api answered without credentials for device ${deviceId}`, undefined);
  }
  return {
    username: typeof credentials.username === 'string' ? credentials.username : deviceId,
    password: credentials.password,
  };
}
