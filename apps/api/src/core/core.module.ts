import { createSecretKey } from 'node:crypto';
import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { APP_CONFIG, type AppConfig } from '../platform/config/config';
import { AlarmEngine } from './alarms/alarm-engine.service';
import { AlarmsService } from './alarms/alarms.service';
import { AuthService } from './auth/auth.service';
import { DeviceAccess } from './auth/device-access';
import { CommandsService } from './commands/commands.service';
import { BulkCommandsService } from './commands/bulk-commands.service';
import { DeviceAuthService } from './devices/device-auth.service';
import { DevicesService } from './devices/devices.service';
import { EventBus } from './events/event-bus';
import { EventLog } from './events/event-log.service';
import { LogFeed } from './events/log-feed';
import { EventRetention } from './events/event-retention.service';
import { HealthService } from './health.service';
import { AuditService } from './audit/audit.service';
import { ModelsService } from './models/models.service';
import { WebhookDispatcher } from './notifications/webhook-dispatcher.service';
import { WebhookSender } from './notifications/webhook-sender';
import { WebhooksService } from './notifications/webhooks.service';
import { PresenceService } from './events/presence.service';
import { ReplicaSync } from './replica-sync.service';
import { StateService } from './state/state.service';
import { TelemetryHistory } from './telemetry/telemetry-history.service';
import { TelemetryRetention } from './telemetry/telemetry-retention.service';

const services = [
  EventBus,
  LogFeed,
  EventLog,
  EventRetention,
  PresenceService,
  AuthService,
  DeviceAccess,
  DeviceAuthService,
  DevicesService,
  TelemetryHistory,
  TelemetryRetention,
  ModelsService,
  AuditService,
  CommandsService,
  BulkCommandsService,
  WebhookSender,
  WebhooksService,
  WebhookDispatcher,
  StateService,
  AlarmEngine,
  AlarmsService,
  HealthService,
  ReplicaSync,
];

/**
 * The platform's core: the event log and presence, users and sessions,
 * devices, telemetry history, commands and device state, readiness. It knows its
 * repositories and the device transport only by their interfaces; the app
 * binds them (storage adapters, the MQTT edge), and the edges (HTTP, the
 * WebSocket, MQTT) import this module to reach the services.
 */
@Module({
  imports: [
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      // A KeyObject, not a string: given a string, jsonwebtoken first tries it as a public key
      // (createPublicKey throws), which made every verify ~50 times slower.
      useFactory: (config: AppConfig) => ({
        secret: createSecretKey(Buffer.from(config.jwtSecret)),
        signOptions: { algorithm: 'HS256' },
        verifyOptions: { algorithms: ['HS256'] },
      }),
    }),
  ],
  providers: services,
  exports: services,
})
export class CoreModule {}
