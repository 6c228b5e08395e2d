import type { NextFunction, Request, Response } from 'express';
import type { ApiError } from '@iot/protocol';
import { SESSION_COOKIE } from '../../core/auth/auth.service';
import { statusText } from './http-error.filter';

/** The media types a request body may have: JSON, and JSON merge patches (RFC 7396) for desired state. */
export const JSON_BODY_TYPES = ['application/json', 'application/merge-patch+json'];
/** The largest request body parsed; larger ones get 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Answers with the api's error shape, as HttpErrorFilter does for errors
 * inside Nest. The answer is counted by the HTTP metrics middleware
 * (iot_http_requests_total), not as a rejected device message.
 */
export function sendError(res: Response, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body: ApiError = { statusCode: status, error: statusText(status), message };
  res.status(status).json(body);
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * 415 for a request body that is not JSON. Only JSON is parsed, so a form a
 * foreign page posts (which needs no CORS preflight) never reaches a route.
 */
export function requireJsonBodies() {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!hasBody(req) || req.is(JSON_BODY_TYPES)) return next();
    sendError(res, 415, `request bodies must be JSON (${JSON_BODY_TYPES.join(' or ')})`);
  };
}

function originOf(req: Request): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined) return origin;
  const referer = req.headers.referer;
  if (referer === undefined) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return undefined;
  }
}

/**
 * 403 for an unsafe request (POST, PUT, PATCH, DELETE) authenticated by the
 * session cookie whose Origin (or Referer, when Origin is absent) is not an
 * allowed origin: browsers send the cookie with requests other pages of the
 * same site make. A cookie request naming neither is refused too; bearer
 * tokens, which a browser never attaches by itself, are not concerned.
 */
export function refuseCrossSiteCookieRequests(isAllowedOrigin: (origin: string | undefined) => boolean) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (SAFE_METHODS.has(req.method)) return next();
    if (req.headers.authorization?.startsWith('Bearer ')) return next();
    const cookies = req.cookies as Record<string, string> | undefined;
    if (!cookies?.[SESSION_COOKIE]) return next();
    const origin = originOf(req);
    if (isAllowedOrigin(origin)) return next();
    sendError(
      res,
      403,
      origin === undefined
        ? 'a request authenticated by the session cookie must name its Origin; send a Bearer token instead'
        : `requests from ${origin} may not use the session cookie`,
    );
  };
}

/**
 * Body-parser errors (too large, malformed JSON, an unsupported charset or
 * encoding) answered in the api's error shape instead of Express's HTML page.
 */
export function bodyParserErrors() {
  return (error: unknown, _req: Request, res: Response, next: NextFunction): void => {
    const { status, type } = (error ?? {}) as { status?: unknown; type?: unknown };
    if (typeof status !== 'number' || typeof type !== 'string') return next(error);
    switch (type) {
      case 'entity.too.large':
        return sendError(res, 413, `request bodies may be at most ${MAX_BODY_BYTES} bytes`);
      case 'entity.parse.failed':
        return sendError(res, 400, `the body is not valid JSON: ${(error as Error).message}`);
      case 'charset.unsupported':
      case 'encoding.unsupported':
        return sendError(res, 415, (error as Error).message);
      default:
        // request.aborted, request.size.invalid, stream.encoding.set, ...: the client's fault or gone.
        return sendError(res, status >= 400 && status < 500 ? status : 400, (error as Error).message);
    }
  };
}
