import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { AlarmRulesController, AlarmsController } from './alarms/alarms.controller';
import { AuditController } from './audit/audit.controller';
import { AuditInterceptor } from './audit/audited';
import { CoreModule } from '../../core/core.module';
import { AuthController } from './auth/auth.controller';
import { DeviceScopeGuard } from './auth/device-scope.guard';
import { AuthGuard } from './auth/auth.guard';
import { UsersController } from './auth/users.controller';
import { CommandsController } from './commands/commands.controller';
import { BulkCommandsController } from './commands/bulk-commands.controller';
import { BulkStateController } from './state/bulk-state.controller';
import { DevicesController } from './devices/devices.controller';
import { AsyncApiController } from './docs/asyncapi.controller';
import { HttpErrorFilter } from './http-error.filter';
import { BrokerController } from './ops/broker.controller';
import { EmqxAuthController } from './ops/emqx-auth.controller';
import { HealthController } from './ops/health.controller';
import { MetricsController } from './ops/metrics.controller';
import { ModelsController } from './models/models.controller';
import { StateController } from './state/state.controller';
import { StreamController } from './stream/stream.controller';
import { StreamHub } from './stream/stream-hub.service';
import { TelemetryController } from './telemetry/telemetry.controller';
import { WebhooksController } from './webhooks/webhooks.controller';

/** The HTTP edge: REST, the SSE stream, health, metrics and the API documents. */
@Module({
  imports: [CoreModule],
  controllers: [
    AuthController,
    UsersController,
    DevicesController,
    TelemetryController,
    BulkCommandsController,
    BulkStateController,
    CommandsController,
    StateController,
    ModelsController,
    AuditController,
    WebhooksController,
    AlarmRulesController,
    AlarmsController,
    StreamController,
    HealthController,
    MetricsController,
    BrokerController,
    EmqxAuthController,
    AsyncApiController,
  ],
  providers: [
    StreamHub,
    { provide: APP_GUARD, useClass: AuthGuard },
    // Runs after the AuthGuard (guards run in the order provided).
    { provide: APP_GUARD, useClass: DeviceScopeGuard },
    { provide: APP_FILTER, useClass: HttpErrorFilter },
    { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
  ],
  exports: [StreamHub],
})
export class HttpModule {}
