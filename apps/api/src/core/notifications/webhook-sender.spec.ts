import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebhookSender } from './webhook-sender';

describe('WebhookSender', () => {
  let server: Server;
  let base: string;
  const paths: string[] = [];
  let handle: (req: IncomingMessage, res: ServerResponse) => void;
  const sut = new WebhookSender();

  beforeAll(async () => {
    server = createServer((req, res) => {
      paths.push(req.url ?? '');
      req.resume();
      req.on('end', () => handle(req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => (paths.length = 0));

  it('posts JSON with the headers given; a 2xx is delivered', async () => {
    let seen: IncomingMessage | undefined;
    handle = (req, res) => {
      seen = req;
      res.writeHead(202).end();
    };
    const result = await sut.send(`${base}/hook`, '{"a":1}', { 'X-Iot-Event': 'alarm' }, 1_000);
    expect(result).toEqual({ ok: true, statusCode: 202, error: null });
    expect(seen?.method).toBe('POST');
    expect(seen?.headers['content-type']).toBe('application/json');
    expect(seen?.headers['x-iot-event']).toBe('alarm');
  });

  it('follows no redirect: a 3xx is a failure and its target gets nothing', async () => {
    handle = (_req, res) => res.writeHead(307, { location: `${base}/elsewhere` }).end();
    expect(await sut.send(`${base}/hook`, '{}', {}, 1_000)).toEqual({ ok: false, statusCode: 307, error: 'HTTP 307' });
    expect(paths).toEqual(['/hook']);
  });

  it('reads a few KiB of a long answer and drops the rest, without waiting for its end', async () => {
    handle = (_req, res) => {
      res.writeHead(500);
      // 64 KiB now, and the end never.
      res.write(Buffer.alloc(64 * 1024, 'x'));
    };
    expect(await sut.send(`${base}/hook`, '{}', {}, 2_000)).toEqual({ ok: false, statusCode: 500, error: 'HTTP 500' });
  });

  it('gives up on a receiver that does not answer in time, and says so', async () => {
    handle = () => undefined;
    expect(await sut.send(`${base}/hook`, '{}', {}, 200)).toEqual({
      ok: false,
      statusCode: null,
      error: 'no answer within 200 ms',
    });
  });

  it('reports a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await sut.send(`http://127.0.0.1:${port}/`, '{}', {}, 1_000);
    expect(result).toMatchObject({ ok: false, statusCode: null });
    expect(result.error).toContain('ECONNREFUSED');
  });
});
