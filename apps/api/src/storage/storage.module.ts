import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { APP_CONFIG, type AppConfig } from '../platform/config/config';
import { MetricsService } from '../platform/metrics/metrics.service';
import { SqliteStorage } from './sqlite-storage';
import { Storage } from './storage';

@Global()
@Module({
  providers: [
    {
      provide: Storage,
      inject: [APP_CONFIG, MetricsService],
      useFactory: async (config: AppConfig, metrics: MetricsService): Promise<Storage> => {
        if (config.databaseUrl) {
          throw new Error('DATABASE_URL (PostgreSQL) is not supported yet; unset it to use SQLite in DATA_DIR');
        }
        const storage = await SqliteStorage.open(join(config.dataDir, 'iot.db'));
        storage.observeCommits((events, seconds) => metrics.storageCommitted(events, seconds));
        return storage;
      },
    },
  ],
  exports: [Storage],
})
export class StorageModule implements OnApplicationShutdown {
  constructor(@Inject(Storage) private readonly storage: Storage) {}

  async onApplicationShutdown(): Promise<void> {
    await this.storage.close();
  }
}
