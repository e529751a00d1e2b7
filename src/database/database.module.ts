import { Global, Inject, Injectable, Module } from '@nestjs/common';
import type { OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from '../config/config.js';
import type { AppConfig } from '../config/config.js';
import { AppLogger } from '../logging/app-logger.js';
import { dataSourceOptions } from './data-source-options.js';
import { DatabaseService } from './database.service.js';

/** Opens the database and applies pending migrations before anything else starts. */
export async function openDatabase(config: AppConfig, logger: AppLogger): Promise<DataSource> {
  let ds = new DataSource(dataSourceOptions(config.database, config.databasePoolSize));
  await ds.initialize();
  if (ds.options.type === 'mysql' && (await isMariaDb(ds))) {
    // TypeORM reads MariaDB's catalogue differently (e.g. DEFAULT NULL); tell it what it talks to.
    await ds.destroy();
    ds = new DataSource(dataSourceOptions(config.database, config.databasePoolSize, 'mariadb'));
    await ds.initialize();
  }
  const applied = await ds.runMigrations({ transaction: 'each' });
  logger.emit('info', 'database ready', {
    driver: config.database.driver,
    ...(config.database.driver === 'sqlite' ? { path: config.database.path } : { database: config.database.database }),
    migrationsApplied: applied.map((m) => m.name),
  });
  return ds;
}

async function isMariaDb(ds: DataSource): Promise<boolean> {
  const rows = await ds.query<{ v: string }[]>('SELECT VERSION() AS v');
  return /mariadb/i.test(rows[0]?.v ?? '');
}

@Injectable()
class DatabaseCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: DataSource,
      inject: [APP_CONFIG, AppLogger],
      useFactory: (config: AppConfig, logger: AppLogger) => openDatabase(config, logger),
    },
    DatabaseService,
    DatabaseCloser,
  ],
  exports: [DataSource, DatabaseService],
})
export class DatabaseModule {}
