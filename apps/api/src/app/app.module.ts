import { type DynamicModule, Module } from '@nestjs/common';
import { APP_PIPE } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { ZodValidationPipe } from 'nestjs-zod';
import type { Logger as Pino } from 'pino';
import { CoreModule } from '../core/core.module';
import { HttpModule } from '../edges/http/http.module';
import { MqttModule } from '../edges/mqtt/mqtt.module';
import { WsModule } from '../edges/ws/ws.module';
import type { AppConfig } from '../platform/config/config';
import { ConfigModule } from '../platform/config/config.module';
import { AppLogger } from '../platform/logging/logger';
import { MetricsModule } from '../platform/metrics/metrics.module';
import { StorageModule } from '../storage/storage.module';

/**
 * The composition root, in the order a message flows: the platform (config,
 * metrics), storage, the core, then the edges: MQTT in, HTTP (REST and SSE)
 * and the WebSocket out to browsers.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, logger: Pino): DynamicModule {
    return {
      module: AppModule,
      imports: [
        // pino-http and the binding of each request's logger run ahead of Express (logRequests): no middleware here.
        LoggerModule.forRoot({ pinoHttp: { logger }, useExisting: true, forRoutes: [] }),
        ConfigModule.forRoot(config),
        MetricsModule,
        StorageModule,
        CoreModule,
        MqttModule,
        HttpModule,
        WsModule,
      ],
      providers: [AppLogger, { provide: APP_PIPE, useClass: ZodValidationPipe }],
    };
  }
}
