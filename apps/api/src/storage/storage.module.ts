import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { SqliteStorage } from './sqlite-storage';
import { Storage } from './storage';

@Global()
@Module({
  providers: [
    {
      provide: Storage,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig): Promise<Storage> => {
        if (config.databaseUrl) {
          throw new Error('DATABASE_URL (PostgreSQL) is not supported yet; unset it to use SQLite in DATA_DIR');
        }
        return SqliteStorage.open(join(config.dataDir, 'iot.db'));
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
