import { type FactoryProvider, Global, Module, type OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { CommandRepository } from '../domain/commands';
import { DatabaseHealth } from '../domain/database';
import { DeviceStateRepository } from '../domain/device-state';
import { DeviceRepository } from '../domain/devices';
import { EventRepository } from '../domain/events';
import { SessionRepository } from '../domain/sessions';
import { TelemetryRepository } from '../domain/telemetry';
import { UserRepository } from '../domain/users';
import { APP_CONFIG, type AppConfig } from '../platform/config/config';
import { MetricsService } from '../platform/metrics/metrics.service';
import { SqliteDatabase } from './sqlite-database';

/** A domain token bound to the part of the database that implements it: `pick`'s result is checked against the token's class. */
function bind<T>(token: abstract new (...args: never[]) => T, pick: (db: SqliteDatabase) => NoInfer<T>): FactoryProvider<T> {
  return { provide: token, inject: [SqliteDatabase], useFactory: pick };
}

const repositories = [
  bind(DatabaseHealth, (db) => db),
  bind(UserRepository, (db) => db.users),
  bind(SessionRepository, (db) => db.sessions),
  bind(DeviceRepository, (db) => db.devices),
  bind(TelemetryRepository, (db) => db.telemetry),
  bind(CommandRepository, (db) => db.commands),
  bind(DeviceStateRepository, (db) => db.deviceState),
  bind(EventRepository, (db) => db.events),
];

/** Binds each of the domain's repositories to its SQLite adapter, on one database opened at boot. */
@Global()
@Module({
  providers: [
    {
      provide: SqliteDatabase,
      inject: [APP_CONFIG, MetricsService],
      useFactory: async (config: AppConfig, metrics: MetricsService): Promise<SqliteDatabase> => {
        if (config.databaseUrl) {
          throw new Error('DATABASE_URL (PostgreSQL) is not supported yet; unset it to use SQLite in DATA_DIR');
        }
        const database = await SqliteDatabase.open(join(config.dataDir, 'iot.db'));
        database.observeCommits((events, seconds) => metrics.storageCommitted(events, seconds));
        return database;
      },
    },
    ...repositories,
  ],
  exports: repositories.map((binding) => binding.provide),
})
export class StorageModule implements OnApplicationShutdown {
  constructor(private readonly database: SqliteDatabase) {}

  async onApplicationShutdown(): Promise<void> {
    await this.database.close();
  }
}
