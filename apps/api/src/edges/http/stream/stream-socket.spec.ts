import { once } from 'node:events';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import { chunkOf, detachStream, endStream, writeChunk } from './stream-socket';

type Detached = { socket: Socket; res: ServerResponse; req: IncomingMessage };

describe('stream-socket', () => {
  let server: Server;
  let port: number;
  let detached: Promise<Detached>;

  beforeEach(async () => {
    let resolve: (d: Detached) => void = () => undefined;
    detached = new Promise((r) => (resolve = r));
    server = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.flushHeaders();
      res.write('retry: 2000\n\n');
      // As the app does: after authentication, a later turn than the request's.
      setImmediate(() => {
        const sut = detachStream(res);
        if (sut) resolve({ socket: sut, res, req });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    const { socket } = await Promise.race([detached, Promise.resolve({ socket: undefined })]);
    socket?.destroy();
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  /** A raw connection that sent `head` and collects every byte it is sent. */
  const rawClient = (head: string) => {
    const client = connect(port, '127.0.0.1');
    client.write(head);
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    return { client, text: () => Buffer.concat(received).toString() };
  };

  it("takes the connection from the HTTP server: parser, request and response let go, the server's listeners off", async () => {
    const { client } = rawClient('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const { socket, res } = await detached;

    expect(res.socket).toBeNull();
    expect((socket as Socket & { parser?: unknown }).parser).toBeNull();
    expect(socket.listenerCount('data')).toBe(1);
    expect(socket.listenerCount('close')).toBe(0);
    expect(socket.listenerCount('drain')).toBe(0);
    // Out of the server's connection list: closing every connection no longer reaches it.
    server.closeAllConnections();
    expect(socket.destroyed).toBe(false);
    client.destroy();
  });

  it('writes chunks an HTTP client reads as the body, and ends the body and the connection', async () => {
    const req = request({ port, host: '127.0.0.1', path: '/', agent: false });
    req.end();
    const [response] = (await once(req, 'response')) as [IncomingMessage];
    const body: string[] = [];
    response.setEncoding('utf8');
    response.on('data', (s: string) => body.push(s));
    const { socket } = await detached;

    writeChunk(socket, true, Buffer.from('data: é\n\n'));
    writeChunk(socket, true, 'data: 2\n\n');
    socket.write(chunkOf(Buffer.from(':\n\n')));
    const closed = once(socket, 'close');
    endStream(socket, true);

    await once(response, 'end');
    expect(body.join('')).toBe('retry: 2000\n\ndata: é\n\ndata: 2\n\n:\n\n');
    await closed;
  });

  it('sends an HTTP/1.0 body as it is', async () => {
    const { client, text } = rawClient('GET / HTTP/1.0\r\n\r\n');
    const { socket } = await detached;

    writeChunk(socket, false, 'data: 1\n\n');
    endStream(socket, false);

    await once(client, 'close');
    expect(text()).toMatch(/\r\n\r\nretry: 2000\n\ndata: 1\n\n$/);
  });

  it.each([
    ['sends a byte after the request', (client: Socket) => client.write('x')],
    ['ends its side of the connection', (client: Socket) => client.end()],
  ])('ends the stream when the client %s', async (_, act) => {
    const { client } = rawClient('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const { socket } = await detached;

    act(client);

    await once(socket, 'close');
    expect(socket.destroyed).toBe(true);
  });

  it('answers undefined for a response whose connection is gone', () => {
    const res = { socket: null } as unknown as ServerResponse;

    expect(detachStream(res)).toBeUndefined();
  });
});
