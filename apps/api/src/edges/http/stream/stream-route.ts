import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { Logger } from '@nestjs/common';
import cookieParser from 'cookie-parser';
import type { Request, Response } from 'express';
import { API_BASE_PATH } from '@iot/protocol';
import { authenticate, tokenOf } from '../auth/auth.guard';
import type { AuthService } from '../../../core/auth/auth.service';
import { requestIdOf } from '../../../platform/logging/logger';
import type { MetricsService } from '../../../platform/metrics/metrics.service';
import type { StreamHub } from './stream-hub.service';
import { lastEventIdOf, parseStreamFilters } from './stream-query';

const STREAM_PATH = `${API_BASE_PATH}/stream`;
const logger = new Logger('StreamRoute');
/** The same parser the app mounts, so a cookie means here what it means to every other route. */
const parseCookies = cookieParser();

export interface StreamRouteOptions {
  auth: AuthService;
  hub: StreamHub;
  /** The CORS rule given to `enableCors`. */
  isAllowedOrigin(origin: string): boolean;
  /** Counts a stream opened here as one request, as the HTTP metrics middleware counts the rest. */
  metrics: MetricsService;
}

/**
 * Serves `GET /api/v1/stream` from the HTTP server before Express sees it:
 * Express and Nest dress every request and response with properties,
 * bound functions and closures, work and garbage that a stream opened by
 * the thousand does without (docs/performance.md, "Design choices that
 * matter"). Either way the hub then keeps only the socket (stream-socket.ts).
 *
 * Only a request that will open a stream is taken: the exact path, no body,
 * single-valued query parameters, a valid session of a user with the
 * stream's role (viewer, as the guard requires), valid filters, within the
 * stream caps. Anything
 * else goes to Express as before, so a refusal gets the same answer as from
 * any other route (guard, controller, error filter, metrics), and other
 * spellings of the path still reach the controller.
 */
export function serveStreamsBeforeExpress(server: Server, options: StreamRouteOptions): void {
  const next = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const toExpress: RequestListener = (req, res) => {
    for (const listener of next) listener(req, res);
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const query = streamQuery(req);
    if (query === undefined) return toExpress(req, res);
    openStream(req, res, query, options).then(
      (opened) => {
        if (!opened) toExpress(req, res);
      },
      (error: unknown) => {
        // As the error filter does for an error after the head went out.
        logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
        if (res.headersSent) res.destroy();
        else toExpress(req, res);
      },
    );
  });
}

/** The query string of a GET of exactly the stream's path with no body, else undefined. */
function streamQuery(req: IncomingMessage): string | undefined {
  if (req.method !== 'GET') return undefined;
  const url = req.url ?? '';
  if (!url.startsWith(STREAM_PATH)) return undefined;
  if (url.length === STREAM_PATH.length) return '';
  // A fragment or a body would make Express read the request differently; leave those to it.
  if (url[STREAM_PATH.length] !== '?' || url.includes('#')) return undefined;
  const headers = req.headers;
  if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) return undefined;
  return url.slice(STREAM_PATH.length + 1);
}

/** Opens the stream if the request is one Express would open too; false to hand it to Express. */
async function openStream(
  req: IncomingMessage,
  res: ServerResponse,
  search: string,
  { auth, hub, isAllowedOrigin, metrics }: StreamRouteOptions,
): Promise<boolean> {
  const start = performance.now();
  // Express 5's default ("simple") query parser is node:querystring.
  const { devices, events, lastEventId } = parseQuery(search);
  if (Array.isArray(devices) || Array.isArray(events) || Array.isArray(lastEventId)) return false;
  const filters = parseStreamFilters(devices, events);
  if (typeof filters === 'string') return false;
  const headers = req.headers;
  let cookies: Record<string, string> | undefined;
  if (!headers.authorization?.startsWith('Bearer ') && headers.cookie !== undefined) {
    const probe = { headers: { cookie: headers.cookie } } as Request & { cookies?: Record<string, string> };
    parseCookies(probe, {} as Response, () => undefined);
    cookies = probe.cookies;
  }
  const result = await authenticate(auth, tokenOf({ headers, cookies }), 'viewer');
  if ('status' in result) return false;
  // Past a stream cap: the controller answers the 429.
  if (hub.refusal(result.user.username) !== undefined) return false;
  const origin = headers.origin;
  const lastEventIdHeader = headers['last-event-id'] as string | undefined;
  // Given to the head the hub writes: this response never went through the middleware that sets it.
  const reqId = requestIdOf(req);
  await hub.open(
    res,
    {
      requestId: reqId,
      username: result.user.username,
      sessionId: result.user.sessionId,
      scope: result.user.scope,
      ...filters,
      lastEventId: lastEventIdOf(lastEventIdHeader, lastEventId),
    },
    origin !== undefined && isAllowedOrigin(origin) ? origin : undefined,
  );
  // The route label the controller's route has; its duration is the time to open it.
  metrics.httpRequest('GET', STREAM_PATH, res.statusCode, (performance.now() - start) / 1000);
  const request = { method: 'GET', url: STREAM_PATH, remoteAddress: req.socket.remoteAddress };
  logger.log({ reqId, req: request, username: result.user.username }, `GET ${STREAM_PATH} opened`);
  return true;
}
