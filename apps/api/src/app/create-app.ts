import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Logger, RequestMethod } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import cookieParser from 'cookie-parser';
import express from 'express';
import helmet from 'helmet';
import { API_BASE_PATH, ASYNCAPI_DOCUMENT_PATH } from '@iot/protocol';
import { tokenOf } from '../edges/http/auth/auth.guard';
import { AuthService } from '../core/auth/auth.service';
import { DeviceTransport } from '../core/device-transport';
import {
  JSON_BODY_TYPES,
  MAX_BODY_BYTES,
  bodyParserErrors,
  refuseCrossSiteCookieRequests,
  requireJsonBodies,
} from '../edges/http/http-guards';
import { PlatformWsAdapter } from '../edges/ws/ws-adapter';
import { type AppConfig, effectiveOrigins } from '../platform/config/config';
import { openApiDocument } from '../edges/http/docs/openapi';
import { AppLogger, createRootLogger, logRequests } from '../platform/logging/logger';
import { httpMetrics } from '../edges/http/http-metrics';
import { MetricsService } from '../platform/metrics/metrics.service';
import { StreamHub } from '../edges/http/stream/stream-hub.service';
import { serveStreamsBeforeExpress } from '../edges/http/stream/stream-route';
import { AppModule } from './app.module';

export interface RunningApp {
  app: NestExpressApplication;
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** The embedded broker's port, when it runs. */
  mqttPort: number | undefined;
  close(): Promise<void>;
}

/** Where the built console is: CONSOLE_DIR, else the workspace's build output. */
function consoleDir(config: AppConfig): string | undefined {
  const candidates = config.consoleDir
    ? [config.consoleDir]
    : [resolve('dist/apps/console/browser'), join(__dirname, '../console/browser')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

/**
 * Security headers for the api and the console it serves (helmet). The
 * console's index.html loads its scripts and styles from its own origin and
 * has no inline script; Angular adds component styles as `<style>` elements, hence
 * 'unsafe-inline' for styles only. No `upgrade-insecure-requests`: a
 * console served over plain HTTP (a LAN address) would have its own scripts
 * upgraded to an HTTPS port nobody serves. HSTS goes only on requests that
 * came over TLS, as the api (`req.secure`: a trusted proxy's
 * X-Forwarded-Proto, TRUST_PROXY) sees them: on plain HTTP browsers ignore it anyway.
 */
function securityHeaders(): express.RequestHandler[] {
  const hsts = helmet.strictTransportSecurity();
  return [
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          baseUri: ["'self'"],
          connectSrc: ["'self'"],
          fontSrc: ["'self'", 'data:'],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          imgSrc: ["'self'", 'data:'],
          objectSrc: ["'none'"],
          scriptSrc: ["'self'"],
          scriptSrcAttr: ["'none'"],
          styleSrc: ["'self'", "'unsafe-inline'"],
        },
      },
      strictTransportSecurity: false,
      // As frame-ancestors 'none', for browsers that know only this header.
      xFrameOptions: { action: 'deny' },
    }),
    (req, res, next) => (req.secure ? hsts(req, res, next) : next()),
  ];
}

function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of header?.split(';') ?? []) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    try {
      cookies[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // a malformed cookie is no cookie
    }
  }
  return cookies;
}

/** Builds and starts the api: HTTP (REST, SSE, the console) and the MQTT side. */
export async function createApp(config: AppConfig): Promise<RunningApp> {
  const logger = createRootLogger(config);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger), {
    // Held until the pino logger is in place, which drops Nest's start chatter (AppLogger).
    bufferLogs: true,
    // Only the JSON parser below: Nest's default would parse forms as well.
    bodyParser: false,
    // A failed start reaches main's handler (a line and an exit code) instead of Nest exiting 1 with a stack trace;
    // the held logs (Nest's own report of the failure among them) are dropped then, and printed below otherwise.
    abortOnError: false,
    autoFlushLogs: false,
  });
  app.useLogger(app.get(AppLogger));
  app.flushLogs();
  for (const warning of config.warnings) Logger.warn(warning, 'Config');
  app.disable('x-powered-by');
  // X-Forwarded-For/-Proto only from these: anyone else could claim any address (and dodge login limits).
  app.set('trust proxy', config.trustProxy);
  const metrics = app.get(MetricsService);
  // The default origins name the bound port, known only after listen; the checks read the set per request.
  const origins = new Set<string>();
  const isAllowedOrigin = (origin: string | undefined) => origin !== undefined && origins.has(origin);
  app.use(httpMetrics(metrics));
  app.use(securityHeaders());
  app.use(cookieParser());
  app.use(refuseCrossSiteCookieRequests(isAllowedOrigin));
  app.use(requireJsonBodies());
  // Desired-state patches may come as application/merge-patch+json (RFC 7396).
  app.useBodyParser('json', { type: JSON_BODY_TYPES, limit: MAX_BODY_BYTES });
  app.use(bodyParserErrors());
  app.setGlobalPrefix(API_BASE_PATH.slice(1), {
    exclude: [
      { path: 'healthz', method: RequestMethod.GET },
      { path: 'readyz', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
      { path: ASYNCAPI_DOCUMENT_PATH.slice(1), method: RequestMethod.GET },
    ],
  });

  // Built on the first request for it (a one-off pause of the event loop), not kept by an api nobody reads it from.
  SwaggerModule.setup('api/docs', app, () => openApiDocument(app));

  const staticDir = consoleDir(config);
  if (staticDir) {
    const serveFile = express.static(staticDir, { index: false, maxAge: '1h' });
    const isApi = /^\/(api|healthz|readyz|metrics)(\/|$)/;
    // API paths skip the file lookup; the console routes in the browser, so any other GET gets its index.html.
    app.use((req: express.Request, res: express.Response, next: express.NextFunction) => {
      if (isApi.test(req.path)) return next();
      serveFile(req, res, () => (req.method === 'GET' ? res.sendFile(join(staticDir, 'index.html')) : next()));
    });
  }

  const auth = app.get(AuthService);
  const hub = app.get(StreamHub);
  app.useWebSocketAdapter(
    new PlatformWsAdapter(app, async (req) => {
      const origin = req.headers.origin;
      // [RFC 6455 10.2] browsers always send Origin: refuse foreign pages before the socket opens.
      if (origin !== undefined && !isAllowedOrigin(origin)) return { ok: false, status: 403, message: 'Forbidden' };
      const cookies = parseCookies(req.headers.cookie);
      // Without Origin it is not a browser, and a cookie alone must not do (it could be replayed by anything).
      const token = tokenOf({ headers: req.headers, cookies: origin === undefined ? {} : cookies });
      const user = token === undefined ? undefined : await auth.verifyToken(token);
      if (!user) return { ok: false, status: 401, message: 'Unauthorized' };
      (req as typeof req & { user: typeof user }).user = user;
      return { ok: true };
    }),
  );
  app.enableCors({ origin: (origin, done) => done(null, isAllowedOrigin(origin)), credentials: true });
  // Every request Express answers has its id and its line. A stream opened before Express takes its
  // id and logs one line when it opens: pino-http's state per request would stay with every idle stream.
  logRequests(app.getHttpServer(), logger);
  serveStreamsBeforeExpress(app.getHttpServer(), { auth, hub, isAllowedOrigin, metrics });

  await app.listen(config.port, config.host);
  const port = (app.getHttpServer().address() as AddressInfo).port;
  for (const origin of effectiveOrigins(config, port)) origins.add(origin);
  const transport = app.get(DeviceTransport);
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    port,
    mqttPort: transport.port,
    close: () => app.close(),
  };
}
