import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { Logger as PinoNestLogger, PARAMS_PROVIDER_TOKEN, type Params, PinoLogger } from 'nestjs-pino';
// Not in the package's index: the AsyncLocalStorage its PinoLogger reads the request's logger from.
import { Store, storage } from 'nestjs-pino/storage';
import pino, { type DestinationStream, type Logger as Pino, type LevelWithSilent } from 'pino';
import { type Options as HttpOptions, pinoHttp } from 'pino-http';
import pinoPretty from 'pino-pretty';
import type { AppConfig } from '../config/config';

/** LOG_LEVEL as pino names it. */
export const PINO_LEVELS: Record<AppConfig['logLevel'], LevelWithSilent> = {
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
};

/** Response header that carries a request's id, also taken from the request when it is safe to log. */
export const REQUEST_ID_HEADER = 'X-Request-Id';
/** An incoming request id is used only when it is this short and of these characters; else one is made. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/** Longest URL a request line keeps. */
const MAX_LOGGED_URL = 256;

/** Secrets that must never reach a line, whatever a serializer lets through. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'password',
  'secret',
  'token',
  'accessToken',
];

/**
 * Nest's own start chatter (every module, route and gateway it sets up):
 * its info lines are dropped, warnings and errors kept. The start logs one
 * summary instead (main.ts).
 */
const STARTUP_CONTEXTS = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'WebSocketsController',
  'NestFactory',
  'NestApplication',
]);

/** Fields a human-readable line leaves out, as its message says them. */
const PRETTY_HIDDEN =
  'context,req,res,responseTime,url,broker,database,login,signal,sseStreams,webSockets,eventsFlushed,deviceSessions,suppressed';

/** The root logger: JSON lines on stdout, or pino-pretty in this thread (no worker), coloured only on a terminal. */
export function createRootLogger(
  config: Pick<AppConfig, 'logLevel' | 'logFormat'>,
  destination?: DestinationStream,
): Pino {
  const options: pino.LoggerOptions = {
    level: PINO_LEVELS[config.logLevel],
    base: undefined,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (config.logFormat === 'json') {
    const json: pino.LoggerOptions = {
      ...options,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names, as log shippers expect them, rather than pino's numbers.
      formatters: { level: (label) => ({ level: label }) },
    };
    return pino(json, destination ?? pino.destination({ sync: true }));
  }
  const pretty = pinoPretty({
    colorize: destination === undefined && process.stdout.isTTY === true && !process.env['NO_COLOR'],
    sync: true,
    singleLine: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    // What the message already says; ids, users, devices and addresses stay.
    ignore: PRETTY_HIDDEN,
    messageFormat: '{if context}[{context}] {end}{msg}',
    ...(destination && { destination }),
  });
  return pino(options, pretty);
}

/** The id of a request: a short, safe X-Request-Id as sent, else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && SAFE_REQUEST_ID.test(sent) ? sent : randomUUID();
}

/** The id of a request (requestIdOf), echoed in the response. */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const id = requestIdOf(req);
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

const DEVICE_PATH = /^\/api\/v1\/devices\/([A-Za-z0-9_-]{1,64})(?:[/?]|$)/;
/** Probes and scrapes, logged only when they fail. */
const QUIET_PATHS = /^\/(healthz|readyz|metrics)(?:\?|$)/;

type LoggedRequest = IncomingMessage & { user?: { username?: string }; originalUrl?: string };

/**
 * pino-http's options: one line per request when it ends, with the id, the
 * user and the device the path names; no headers, no bodies (the
 * serializers keep method, URL and address only).
 */
export function httpLoggerOptions(logger: Pino): HttpOptions {
  return {
    logger,
    genReqId: requestId,
    quietReqLogger: true,
    customLogLevel: (req, res, error) => {
      if (error || res.statusCode >= 500) return 'error';
      return res.statusCode < 400 && QUIET_PATHS.test(req.url ?? '') ? 'silent' : 'info';
    },
    customProps: (req) => {
      const { user, url } = req as LoggedRequest;
      const deviceId = DEVICE_PATH.exec(url ?? '')?.[1];
      return { ...(user?.username && { username: user.username }), ...(deviceId && { deviceId }) };
    },
    customSuccessMessage: (req, res, ms) => `${req.method} ${urlOf(req)} ${res.statusCode} ${ms} ms`,
    customErrorMessage: (req, res) => `${req.method} ${urlOf(req)} ${res.statusCode}`,
    serializers: {
      req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
        method: req.method,
        url: req.url.slice(0, MAX_LOGGED_URL),
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  };
}

function urlOf(req: IncomingMessage): string {
  return ((req as LoggedRequest).originalUrl ?? req.url ?? '').slice(0, MAX_LOGGED_URL);
}

/** Runs pino-http ahead of every request listener of `server` (Express, and the SSE route served before it). */
export function logRequests(server: Server, logger: Pino): void {
  const log = pinoHttp(httpLoggerOptions(logger));
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) =>
    log(req, res, () => {
      // What nestjs-pino's own middleware would do, but without a route of its own (which would
      // become the route of every unmatched request): Nest's loggers take this request's logger.
      const requestLogger = (req as IncomingMessage & { log: Pino }).log;
      storage.run(new Store(requestLogger), () => {
        for (const listener of listeners) listener(req, res);
      });
    }),
  );
}

/** Nest's logger over pino, without Nest's start chatter below warn (STARTUP_CONTEXTS). */
@Injectable()
export class AppLogger extends PinoNestLogger {
  constructor(logger: PinoLogger, @Inject(PARAMS_PROVIDER_TOKEN) params: Params) {
    super(logger, params);
  }

  override log(message: unknown, ...optionalParams: unknown[]): void {
    if (isStartupChatter(optionalParams)) return;
    super.log(message, ...optionalParams);
  }

  override debug(message: unknown, ...optionalParams: unknown[]): void {
    if (isStartupChatter(optionalParams)) return;
    super.debug(message, ...optionalParams);
  }

  override verbose(message: unknown, ...optionalParams: unknown[]): void {
    if (isStartupChatter(optionalParams)) return;
    super.verbose(message, ...optionalParams);
  }
}

function isStartupChatter(optionalParams: unknown[]): boolean {
  const context = optionalParams.at(-1);
  return typeof context === 'string' && STARTUP_CONTEXTS.has(context);
}
