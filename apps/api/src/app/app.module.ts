import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { ZodValidationPipe } from 'nestjs-zod';
import type { Logger as Pino } from 'pino';
import { AuthModule } from '../auth/auth.module';
import { BrokerModule } from '../broker/broker.module';
import { HttpErrorFilter } from '../common/http-error.filter';
import type { AppConfig } from '../config/config';
import { ConfigModule } from '../config/config.module';
import { ControlModule } from '../control/control.module';
import { DevicesModule } from '../devices/devices.module';
import { AsyncApiController } from '../docs/asyncapi.controller';
import { HealthController } from '../health/health.controller';
import { IngestModule } from '../ingest/ingest.module';
import { AppLogger } from '../logging/logger';
import { MetricsModule } from '../metrics/metrics.module';
import { StorageModule } from '../storage/storage.module';
import { StreamModule } from '../stream/stream.module';

/** Modules in the order a message flows: config, storage, broker, ingest, stream, control, then the REST nouns. */
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
        BrokerModule,
        IngestModule,
        StreamModule,
        ControlModule,
        AuthModule,
        DevicesModule,
      ],
      controllers: [HealthController, AsyncApiController],
      providers: [
        AppLogger,
        { provide: APP_PIPE, useClass: ZodValidationPipe },
        { provide: APP_FILTER, useClass: HttpErrorFilter },
      ],
    };
  }
}
