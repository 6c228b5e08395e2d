import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { nowEpochMs } from './clock';

export interface StreamOptions {
  baseUrl: string;
  token: string;
  /** Query string for /api/v1/stream, without '?'. */
  query?: string;
  /** The bytes read; for a raw stream, only valid during the call (the socket reads into one buffer again and again). */
  onData?: (chunk: Buffer) => void;
  onClose?: () => void;
  /**
   * Raw streams: strip the chunked encoding before `onData`. Not needed
   * from the api itself, which writes one HTTP chunk per batch of whole
   * frames; a proxy (nginx) re-chunks at its own reads, so a size line can
   * fall inside a frame.
   */
  decodeChunks?: boolean;
}

export interface OpenStream {
  req: ClientRequest;
  res: IncomingMessage;
  close(): void;
}

/**
 * One SSE connection over a plain http.request on its own keep-alive socket
 * (no agent pooling, no EventSource object): the lightest client there is,
 * so the generator spends its CPU reading, not parsing.
 */
export function openStream(options: StreamOptions): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const url = new URL(`/api/v1/stream${options.query ? `?${options.query}` : ''}`, options.baseUrl);
    const req = request(url, {
      agent: false,
      headers: { Accept: 'text/event-stream', Authorization: `Bearer ${options.token}`, Connection: 'keep-alive' },
    });
    req.once('error', reject);
    req.once('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET /api/v1/stream answered ${res.statusCode}`));
        return;
      }
      req.off('error', reject);
      req.on('error', () => undefined);
      res.on('error', () => undefined);
      if (options.onData) res.on('data', options.onData);
      else res.resume();
      res.once('close', () => options.onClose?.());
      resolve({ req, res, close: () => req.destroy() });
    });
    req.end();
  });
}

export interface RawStream {
  socket: Socket;
  close(): void;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * One SSE connection on a bare TCP socket: the GET is written by hand and,
 * once the 200 header is read, every byte after it goes to `onData` as it
 * comes off the socket, chunked-encoding size lines included (they fall
 * between frames, and the readers only look for markers inside frames). No
 * HTTP parser in the loop: the api writes one HTTP chunk per frame, and
 * Node's parser would raise one 'data' event for each, per client. The
 * socket reads into one buffer of its own (`onread`), not a new Buffer per
 * read: in the fan-out scenario those were the readers' garbage, and their
 * scavenges part of the latency the readers recorded.
 */
export function openRawStream(options: StreamOptions): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const url = new URL(`/api/v1/stream${options.query ? `?${options.query}` : ''}`, options.baseUrl);
    const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    const socket = connect({
      host: url.hostname,
      port: Number(url.port),
      onread: {
        buffer: readBuffer,
        callback: (n) => {
          onRead(readBuffer.subarray(0, n));
          return true;
        },
      },
    });
    socket.setNoDelay(true);
    let head: Buffer | undefined = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.once('error', fail);
    socket.on('connect', () => {
      socket.write(
        `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n` +
          `Authorization: Bearer ${options.token}\r\nConnection: keep-alive\r\n\r\n`,
      );
    });
    let deliver = (bytes: Buffer) => options.onData?.(bytes);
    const onRead = (chunk: Buffer) => {
      if (head === undefined) {
        deliver(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf(HEADER_END);
      if (end === -1) {
        if (head.length > 16_384) fail(new Error('no end of the HTTP header in 16 KiB'));
        return;
      }
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head.subarray(0, end).toString('latin1'));
      if (status?.[1] !== '200') {
        fail(new Error(`GET /api/v1/stream answered ${status?.[1] ?? 'garbage'}`));
        return;
      }
      const rest = head.subarray(end + HEADER_END.length);
      const chunked = /\r\ntransfer-encoding:[ \t]*chunked/i.test(head.subarray(0, end).toString('latin1'));
      if (options.decodeChunks && chunked && options.onData) {
        const decoder = new ChunkDecoder(options.onData);
        deliver = (bytes) => {
          try {
            decoder.push(bytes);
          } catch (error) {
            socket.destroy(error as Error);
          }
        };
      }
      head = undefined;
      socket.off('error', fail);
      socket.on('error', () => undefined);
      socket.once('close', () => options.onClose?.());
      resolve({ socket, close: () => socket.destroy() });
      if (rest.length > 0) deliver(rest);
    };
  });
}

/** Longest chunk-size line accepted (hex size, extensions): far more than any real one. */
const MAX_SIZE_LINE = 64;

/**
 * Strips HTTP/1.1 chunked encoding from a byte stream: hands `sink` the data
 * of each chunk as subarrays of the input (no copies), in order.
 */
export class ChunkDecoder {
  /** Data bytes left in the current chunk; -1 while reading a size line. */
  private remaining = -1;
  /** CR LF bytes still to skip after a chunk's data. */
  private trailer = 0;
  private sizeLine = '';
  private ended = false;

  constructor(private readonly sink: (data: Buffer) => void) {}

  push(bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length && !this.ended) {
      if (this.trailer > 0) {
        const skip = Math.min(this.trailer, bytes.length - at);
        this.trailer -= skip;
        at += skip;
      } else if (this.remaining > 0) {
        const take = Math.min(this.remaining, bytes.length - at);
        this.sink(bytes.subarray(at, at + take));
        this.remaining -= take;
        at += take;
        if (this.remaining === 0) {
          this.remaining = -1;
          this.trailer = 2;
        }
      } else {
        const newline = bytes.indexOf(10, at);
        const upTo = newline === -1 ? bytes.length : newline;
        this.sizeLine += bytes.toString('latin1', at, upTo);
        if (this.sizeLine.length > MAX_SIZE_LINE) throw new Error('a chunk-size line over 64 bytes');
        at = upTo;
        if (newline === -1) return;
        at++;
        const size = parseInt(this.sizeLine, 16);
        this.sizeLine = '';
        if (!Number.isFinite(size) || size < 0) throw new Error('a malformed chunk-size line');
        if (size === 0) this.ended = true;
        else this.remaining = size;
      }
    }
  }
}

/** A read's buffer: the size Node reads at most anyway. */
const READ_BUFFER_BYTES = 65_536;

const TELEMETRY_MARKER = Buffer.from('event: telemetry\n');

/** Counts `event: telemetry` frames, including markers split across two chunks. */
export class TelemetryCounter {
  count = 0;
  bytes = 0;
  /** Epoch ms when the latest telemetry frame arrived. */
  lastAt = 0;
  firstAt = 0;
  /** Longest wait between two reads that carried telemetry, ms: the api's stalls show here. */
  maxGapMs = 0;
  private tail: Buffer = Buffer.alloc(0);

  readonly onData = (chunk: Buffer): void => {
    this.bytes += chunk.length;
    let found = 0;
    const m = TELEMETRY_MARKER.length;
    if (this.tail.length > 0) {
      // Only a marker straddling the boundary can be in tail + the chunk's first m-1 bytes.
      const joint = Buffer.concat([this.tail, chunk.subarray(0, m - 1)]);
      for (let at = joint.indexOf(TELEMETRY_MARKER); at !== -1; at = joint.indexOf(TELEMETRY_MARKER, at + 1)) found++;
    }
    for (let at = chunk.indexOf(TELEMETRY_MARKER); at !== -1; at = chunk.indexOf(TELEMETRY_MARKER, at + m)) found++;
    // Keep the stream's last m-1 bytes (they may span several small chunks).
    const keep = chunk.length >= m - 1 ? chunk.subarray(chunk.length - (m - 1)) : Buffer.concat([this.tail, chunk]);
    this.tail = Buffer.from(keep.subarray(Math.max(0, keep.length - (m - 1))));
    if (found > 0) {
      const now = nowEpochMs();
      if (this.count === 0) this.firstAt = now;
      else this.maxGapMs = Math.max(this.maxGapMs, now - this.lastAt);
      this.count += found;
      this.lastAt = now;
    }
  };
}

/** A growable array of numbers (latencies in ms). */
export class Samples {
  private data: Float64Array;
  length = 0;

  /** Room for `capacity` values before the first copy to a larger array (which stalls the readers it serves). */
  constructor(capacity = 1 << 16) {
    this.data = new Float64Array(capacity);
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  clear(): void {
    this.length = 0;
  }

  /** Sorted copy of the values. */
  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort();
  }
}

const SENT_KEY = Buffer.from('"sent":');
const FRAME_END = Buffer.from('\n\n');

/** Reads the decimal number at buf[at…] (digits, optional fraction), byte by byte. */
function readNumber(buf: Buffer, at: number): number {
  let value = 0;
  let i = at;
  let digits = 0;
  for (; i < buf.length; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
    digits++;
  }
  if (buf[i] === 46) {
    let scale = 1;
    for (i++; i < buf.length; i++) {
      const c = buf[i];
      if (c < 48 || c > 57) break;
      scale /= 10;
      value += (c - 48) * scale;
    }
  }
  return digits > 0 ? value : NaN;
}

/**
 * Reads telemetry frames whose values carry `sent` (the publisher's clock,
 * epoch ms) and records receive − sent. The receive time is taken once per
 * chunk, when it reaches JavaScript: frames that arrive together share it.
 * Works on the bytes (no string per chunk) to keep 100k frames/s cheap.
 */
export class LatencyReader {
  received = 0;
  private rest: Buffer | undefined;

  constructor(private readonly samples: Samples) {}

  readonly onData = (chunk: Buffer): void => {
    const now = nowEpochMs();
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    // Only whole frames (ending in a blank line) are read; the rest waits for the next chunk.
    const end = buf.lastIndexOf(FRAME_END);
    // What waits for the next chunk is copied: `chunk` is the socket's read buffer.
    if (end === -1) {
      this.rest = buf === chunk ? Buffer.from(buf) : buf;
      return;
    }
    this.rest = end + 2 < buf.length ? Buffer.from(buf.subarray(end + 2)) : undefined;
    for (let at = buf.indexOf(SENT_KEY); at !== -1 && at < end; at = buf.indexOf(SENT_KEY, at + SENT_KEY.length)) {
      const sent = readNumber(buf, at + SENT_KEY.length);
      if (Number.isFinite(sent)) {
        this.samples.push(now - sent);
        this.received++;
      }
    }
  };
}
