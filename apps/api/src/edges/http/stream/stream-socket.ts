import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

interface HttpParser {
  incoming?: { complete: boolean } | null;
}
interface HttpCommon {
  freeParser(parser: HttpParser | null | undefined, req: unknown, socket: Socket): void;
}
/** What Node does on an upgrade: the parser back to its pool, the connection off the server's list. */
const { freeParser } = require('node:_http_common') as HttpCommon;
// Loud at start rather than a broken stream later, should a Node.js release drop it.
if (typeof freeParser !== 'function') throw new Error('node:_http_common.freeParser is missing');

/** The listeners Node's HTTP server (and Express's on-finished) put on a connection. */
const SERVER_EVENTS = ['data', 'end', 'close', 'drain', 'error', 'timeout', 'resume', 'pause'] as const;

const CRLF = Buffer.from('\r\n');
/** The chunked body's last chunk. */
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

/** A stream's client has nothing more to say: a byte or its end of the connection ends the stream. */
function endOnInput(this: Socket): void {
  this.destroy();
}
/** An error is followed by 'close', where the hub lets the stream go. */
function ignoreError(): void {
  // nothing to do here
}

/**
 * Takes the connection of a response whose head (and anything else written
 * so far) is already on the socket out of Node's HTTP server, as Node does
 * for an upgrade: the parser goes back to its pool, the server's listeners
 * come off, and the request and response objects (with everything Express
 * and Nest hung on them) are left to the GC. An idle stream then costs its
 * socket and little else (docs/performance.md, "Memory"). The body is
 * written by {@link writeChunk} from here on. Undefined if the connection
 * already closed. Not from within the request listener's own turn: until
 * the parser has read the whole request (a later turn for a request without
 * a body) Node would put the connection back on the server's list.
 */
export function detachStream(res: ServerResponse): Socket | undefined {
  const socket = res.socket as (Socket & { parser?: HttpParser | null }) | null;
  if (!socket || socket.destroyed) return undefined;
  const parser = socket.parser;
  if (parser?.incoming && !parser.incoming.complete) throw new Error('the request is still being read');
  res.detachSocket(socket);
  for (const event of SERVER_EVENTS) socket.removeAllListeners(event);
  freeParser(parser, parser?.incoming ?? null, socket);
  // Added once the parser is gone, Node's listener wrappers put the socket's own methods back.
  socket.on('error', ignoreError);
  socket.on('end', endOnInput);
  // Reading also notices a client that went away; anything it sends after the request ends the stream.
  socket.on('data', endOnInput);
  return socket;
}

/** Writes `bytes` as one piece of the body: one HTTP chunk when chunked, as ServerResponse.write does. */
export function writeChunk(socket: Socket, chunked: boolean, bytes: Buffer | string): void {
  if (!chunked) {
    socket.write(bytes);
    return;
  }
  socket.cork();
  socket.write(`${Buffer.byteLength(bytes).toString(16)}\r\n`, 'latin1');
  socket.write(bytes);
  socket.write(CRLF);
  socket.uncork();
}

/** `bytes` framed as one HTTP chunk, for a constant written to many streams. */
export function chunkOf(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, CRLF]);
}

/** Ends the body (its last chunk) and then the connection, once what is queued has gone out. */
export function endStream(socket: Socket, chunked: boolean): void {
  if (socket.destroyed) return;
  const close = () => socket.destroy();
  if (chunked) socket.end(LAST_CHUNK, close);
  else socket.end(close);
}
