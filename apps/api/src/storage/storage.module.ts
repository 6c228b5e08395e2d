import { Global, Module, type OnApplicationShutdown } from '@nestjs/common';
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

/**
 * Binds each of the domain's repositories to its SQLite adapter. The factories
 * are typed by the repository, so the compiler checks each adapter against it.
 */
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
    { provide: DatabaseHealth, inject: [SqliteDatabase], useFactory: (db: SqliteDatabase): DatabaseHealth => db },
    { provide: UserRepository, inject: [SqliteDatabase], useFactory: (db: SqliteDatabase): UserRepository => db.users },
    {
      provide: SessionRepository,
      inject: [SqliteDatabase],
      useFactory: (db: SqliteDatabase): SessionRepository => db.sessions,
    },
    {
      provide: DeviceRepository,
      inject: [SqliteDatabase],
      useFactory: (db: SqliteDatabase): DeviceRepository => db.devices,
    },
    {
      provide: TelemetryRepository,
      inject: [SqliteDatabase],
      useFactory: (db: SqliteDatabase): TelemetryRepository => db.telemetry,
    },
    {
      provide: CommandRepository,
      inject: [SqliteDatabase],
      useFactory: (db: SqliteDatabase): CommandRepository => db.commands,
    },
    {
      provide: DeviceStateRepository,
      inject: [SqliteDatabase],
      useFactory: (db: SqliteDatabase): DeviceStateRepository => db.deviceState,
    },
    {
      provide: EventRepository,
      inject: [SqliteDatabase],
      useFactory: (db: SqliteDatabase): EventRepository => db.events,
    },
  ],
  exports: [
    DatabaseHealth,
    UserRepository,
    SessionRepository,
    DeviceRepository,
    TelemetryRepository,
    CommandRepository,
    DeviceStateRepository,
    EventRepository,
  ],
})
export class StorageModule implements OnApplicationShutdown {
  constructor(private readonly database: SqliteDatabase) {}

  async onApplicationShutdown(): Promise<void> {
    await this.database.close();
  }
}
