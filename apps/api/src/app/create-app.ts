import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { type LogLevel, RequestMethod } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import cookieParser from 'cookie-parser';
import express from 'express';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { API_BASE_PATH } from '@iot/protocol';
import { tokenOf } from '../auth/auth.guard';
import { AuthService } from '../auth/auth.service';
import { DeviceTransport } from '../broker/transport';
import { PlatformWsAdapter } from '../gateway/ws-adapter';
import { type AppConfig, effectiveOrigins } from '../config/config';
import { StreamHub } from '../stream/stream-hub.service';
import { serveStreamsBeforeExpress } from '../stream/stream-route';
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

const LOG_LEVELS: Record<AppConfig['logLevel'], LogLevel[]> = {
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  log: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
};

/** Where the built console is: CONSOLE_DIR, else the workspace's build output. */
function consoleDir(config: AppConfig): string | undefined {
  const candidates = config.consoleDir
    ? [config.consoleDir]
    : [resolve('dist/apps/console/browser'), join(__dirname, '../console/browser')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
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
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    logger: LOG_LEVELS[config.logLevel],
    bodyParser: true,
  });
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(cookieParser());
  // Desired-state patches may come as application/merge-patch+json (RFC 7396).
  app.useBodyParser('json', { type: ['application/json', 'application/merge-patch+json'], limit: '1mb' });
  app.setGlobalPrefix(API_BASE_PATH.slice(1), {
    exclude: [
      { path: 'healthz', method: RequestMethod.GET },
      { path: 'readyz', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
    ],
  });
  app.enableShutdownHooks();

  const document = new DocumentBuilder()
    .setTitle('IoT platform API')
    .setDescription('Devices, telemetry and the live event stream. MQTT topics are described in docs/protocol.md.')
    .setVersion('1')
    .addBearerAuth()
    .addCookieAuth('iot_session')
    .build();
  SwaggerModule.setup('api/docs', app, cleanupOpenApiDoc(SwaggerModule.createDocument(app, document)));

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

  // The default origins name the bound port, known only after listen; the checks read the set per request.
  const origins = new Set<string>();
  const isAllowedOrigin = (origin: string | undefined) => origin !== undefined && origins.has(origin);
  const auth = app.get(AuthService);
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
  serveStreamsBeforeExpress(app.getHttpServer(), { auth, hub: app.get(StreamHub), isAllowedOrigin });

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
