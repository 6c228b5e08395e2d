import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  API_BASE_PATH,
  createDeviceSchema,
  createUserSchema,
  loginRequestSchema,
  updateUserSchema,
  type CreateDeviceResponse,
  type DeviceCredentials,
  type DeviceView,
  type LoginResponse,
} from '@iot/protocol';

/** A request the fake api received. */
export interface FakeApiRequest {
  method: string;
  path: string;
  body: unknown;
  authorization: string | undefined;
}

/** A stand-in for the platform's HTTP API: login, devices and credentials, as the contract describes them. */
export interface FakeApi {
  url: string;
  devices: Map<string, DeviceView>;
  /** Username → password and role; starts with the admin. */
  users: Map<string, { password: string; role: 'viewer' | 'operator' | 'admin' }>;
  requests: FakeApiRequest[];
  close(): Promise<void>;
}

/**
 * Starts the fake api on 127.0.0.1, port 0. `onSecret` hears each device secret
 * it issues (a test hands it to the broker, as the real platform would).
 */
export async function startFakeApi(
  admin: { username: string; password: string },
  onSecret: (deviceId: string, secret: string) => void,
): Promise<FakeApi> {
  // Access token → username; a new password ends the user's tokens, as on the platform.
  const tokens = new Map<string, string>();
  const users: FakeApi['users'] = new Map([[admin.username, { password: admin.password, role: 'admin' }]]);
  const devices = new Map<string, DeviceView>();
  const requests: FakeApiRequest[] = [];

  const issue = (deviceId: string): DeviceCredentials => {
    const password = randomBytes(18).toString('base64url');
    onSecret(deviceId, password);
    return { username: deviceId, password };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body: unknown = text.length > 0 ? JSON.parse(text) : undefined;
    const path = (req.url ?? '').slice(API_BASE_PATH.length);
    requests.push({ method: req.method ?? '', path, body, authorization: req.headers.authorization });
    const send = (status: number, json: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    };
    const error = (status: number, message: string): void =>
      send(status, { statusCode: status, error: 'Error', message });

    if (req.method === 'POST' && path === '/auth/login') {
      const login = loginRequestSchema.safeParse(body);
      const user = login.success ? users.get(login.data.username) : undefined;
      if (!login.success || user === undefined || login.data.password !== user.password) {
        return error(401, 'wrong username or password');
      }
      const token = randomBytes(16).toString('hex');
      tokens.set(token, login.data.username);
      const answer: LoginResponse = {
        accessToken: token,
        expiresIn: 3600,
        user: { username: login.data.username, role: user.role, scope: null },
      };
      return send(201, answer);
    }
    const bearer = req.headers.authorization?.slice('Bearer '.length) ?? '';
    const caller = tokens.get(bearer);
    if (caller === undefined) return error(401, 'log in first');
    if (req.method === 'POST' && path === '/auth/logout') {
      tokens.delete(bearer);
      return send(204, undefined);
    }
    if (users.get(caller)?.role !== 'admin') return error(403, 'admins only');
    if (req.method === 'POST' && path === '/users') {
      const create = createUserSchema.safeParse(body);
      if (!create.success) return error(400, create.error.issues[0].message);
      if (users.has(create.data.username)) return error(409, `user ${create.data.username} exists`);
      users.set(create.data.username, { password: create.data.password, role: create.data.role });
      return send(201, { username: create.data.username, role: create.data.role });
    }
    const userPath = /^\/users\/([^/]+)$/.exec(path);
    if (req.method === 'PATCH' && userPath !== null) {
      const name = decodeURIComponent(userPath[1]);
      const update = updateUserSchema.safeParse(body);
      const user = users.get(name);
      if (!update.success) return error(400, update.error.issues[0].message);
      if (user === undefined) return error(404, `no user ${name}`);
      users.set(name, { password: update.data.password ?? user.password, role: update.data.role ?? user.role });
      for (const [t, u] of tokens) if (u === name) tokens.delete(t);
      return send(200, { username: name, role: update.data.role ?? user.role });
    }

    const device = /^\/devices\/([^/]+)(\/credentials)?$/.exec(path);
    if (req.method === 'POST' && path === '/devices') {
      const create = createDeviceSchema.safeParse(body);
      if (!create.success || create.data.id === undefined)
        return error(400, create.error?.issues[0].message ?? 'give an id');
      if (devices.has(create.data.id)) return error(409, `device ${create.data.id} exists`);
      const view: DeviceView = {
        id: create.data.id,
        name: create.data.name,
        type: create.data.type ?? null,
        labels: create.data.labels ?? {},
        online: false,
        lastSeen: null,
        createdAt: Date.now(),
      };
      devices.set(view.id, view);
      const answer: CreateDeviceResponse = { device: view, credentials: issue(view.id) };
      return send(201, answer);
    }
    if (device !== null) {
      const id = decodeURIComponent(device[1]);
      const view = devices.get(id);
      if (view === undefined) return error(404, `no device ${id}`);
      if (req.method === 'GET' && device[2] === undefined) return send(200, view);
      if (req.method === 'POST' && device[2] !== undefined) return send(201, issue(id));
    }
    return error(404, `no route ${req.method} ${path}`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => res.writeHead(500).end(String(e)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    devices,
    users,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
