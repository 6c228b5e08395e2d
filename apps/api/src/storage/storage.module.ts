import { type FactoryProvider, Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { join } from 'node:path';
import { ClusterChannel } from '../domain/cluster';
import { CommandRepository } from '../domain/commands';
import { DatabaseHealth } from '../domain/database';
import { DeviceStateRepository } from '../domain/device-state';
import { ModelRepository } from '../domain/models';
import { AuditRepository } from '../domain/audit';
import { BulkRepository } from '../domain/bulk';
import { AlarmRepository, AlarmRuleRepository } from '../domain/alarms';
import { DeviceRepository } from '../domain/devices';
import { EventRepository } from '../domain/events';
import { SessionRepository } from '../domain/sessions';
import { TelemetryRepository } from '../domain/telemetry';
import { UserRepository } from '../domain/users';
import { WebhookRepository } from '../domain/webhooks';
import { APP_CONFIG, type AppConfig } from '../platform/config/config';
import { MetricsService } from '../platform/metrics/metrics.service';
import { PgDatabase } from './postgres/pg-database';
import { whenReachable } from './postgres/when-reachable';
import { SQLITE_CACHE_KIB } from './sqlite-connection';
import { SqliteDatabase } from './sqlite-database';

/** The store opened at boot: SQLite in DATA_DIR, or PostgreSQL at DATABASE_URL. */
export abstract class Store {}
type OpenStore = SqliteDatabase | PgDatabase;

/** A domain token bound to the part of the database that implements it: `pick`'s result is checked against the token's class. */
function bind<T>(token: abstract new (...args: never[]) => T, pick: (db: OpenStore) => NoInfer<T>): FactoryProvider<T> {
  return { provide: token, inject: [Store], useFactory: pick };
}

const repositories = [
  bind(DatabaseHealth, (db) => db),
  bind(UserRepository, (db) => db.users),
  bind(SessionRepository, (db) => db.sessions),
  bind(DeviceRepository, (db) => db.devices),
  bind(TelemetryRepository, (db) => db.telemetry),
  bind(CommandRepository, (db) => db.commands),
  bind(DeviceStateRepository, (db) => db.deviceState),
  bind(ModelRepository, (db) => db.models),
  bind(AuditRepository, (db) => db.audit),
  bind(BulkRepository, (db) => db.bulk),
  bind(WebhookRepository, (db) => db.webhooks),
  bind(AlarmRuleRepository, (db) => db.alarmRules),
  bind(AlarmRepository, (db) => db.alarms),
  bind(EventRepository, (db) => db.events),
  bind(ClusterChannel, (db) => db.cluster),
];

/**
 * Binds each of the domain's repositories to its adapter on one database
 * opened at boot: PostgreSQL when DATABASE_URL is set, else SQLite in DATA_DIR.
 */
@Global()
@Module({
  providers: [
    {
      provide: Store,
      // The pino logger itself: Nest holds what `Logger` says until the app is built, and this waits before that.
      inject: [APP_CONFIG, MetricsService, PinoNestLogger],
      useFactory: async (config: AppConfig, metrics: MetricsService, pino: PinoNestLogger): Promise<OpenStore> => {
        if (config.databaseUrl) {
          const logger = new Logger(PgDatabase.name);
          const url = config.databaseUrl;
          // Beside an orchestrator the database may start after the api: wait for it, for a bounded time.
          const database = await whenReachable(
            () =>
              PgDatabase.open(url, {
                poolSize: config.databasePoolSize,
                onError: (error) => logger.warn(`PostgreSQL connection lost: ${error.message}`),
              }),
            { timeoutMs: config.databaseConnectTimeoutMs, onWait: (message) => pino.warn(message, PgDatabase.name) },
          );
          database.events.onCommit = (events, seconds) => metrics.storageCommitted(events, seconds);
          return database;
        }
        const database = await SqliteDatabase.open(join(config.dataDir, 'iot.db'), {
          cacheKiB: SQLITE_CACHE_KIB[config.memoryProfile],
        });
        database.observeCommits((events, seconds) => metrics.storageCommitted(events, seconds));
        return database;
      },
    },
    ...repositories,
  ],
  exports: repositories.map((binding) => binding.provide),
})
export class StorageModule implements OnApplicationShutdown {
  constructor(@Inject(Store) private readonly database: OpenStore) {}

  async onApplicationShutdown(): Promise<void> {
    await this.database.close();
  }
}
