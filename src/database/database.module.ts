import { Global, Inject, Injectable, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { DataSourceOptions } from 'typeorm';
import { APP_CONFIG } from '../config/config.js';
import type { AppConfig } from '../config/config.js';
import { AppLogger } from '../logging/app-logger.js';
import { dataSourceOptions } from './data-source-options.js';
import { DatabaseUnavailableFilter } from './database-unavailable.filter.js';
import { DatabaseService } from './database.service.js';
import { enforceMysqlDeadlines } from './mysql-deadlines.js';

/**
 * Opens the database and, unless `migrate` is false, applies pending migrations before
 * anything else starts. Then bounds every later wait by DATABASE_TIMEOUT_MS (migrations
 * themselves may run longer).
 */
export async function openDatabase(config: AppConfig, logger: AppLogger, migrate = true): Promise<DataSource> {
  const options = (kind?: 'mysql' | 'mariadb'): DataSourceOptions =>
    dataSourceOptions(config.database, config.databasePoolSize, kind, config.databaseTimeoutMs);
  let ds = new DataSource(options());
  await ds.initialize();
  if (ds.options.type === 'mysql' && (await isMariaDb(ds))) {
    // TypeORM reads MariaDB's catalogue differently (e.g. DEFAULT NULL); tell it what it talks to.
    await ds.destroy();
    ds = new DataSource(options('mariadb'));
    await ds.initialize();
  }
  const applied = migrate ? await runMigrationsLocked(ds, logger) : [];
  if (ds.options.type === 'better-sqlite3') {
    // From here on a lock is waited for by DatabaseService, without blocking the event loop.
    await ds.query('PRAGMA busy_timeout = 0');
  } else {
    enforceMysqlDeadlines(ds, config.databaseTimeoutMs);
  }
  if (migrate) {
    logger.emit('info', 'database ready', {
      driver: config.database.driver,
      ...(config.database.driver === 'sqlite'
        ? { path: config.database.path }
        : { database: config.database.database }),
      migrationsApplied: applied.map((m) => m.name),
    });
  }
  return ds;
}

/** How long a replica waits for another one's migrations before it gives up (start-up fails). */
const MIGRATION_LOCK_SECONDS = 600;
const MIGRATION_LOCK = 'mdm_checkin_migrations';

/**
 * Applies pending migrations. On MySQL/MariaDB under a named lock (GET_LOCK, held by one
 * connection for the whole run): replicas that start together take turns, so the second finds
 * everything the first applied instead of running the same DDL at once ("table already
 * exists", or a half-applied migration, since MySQL commits DDL implicitly). The lock goes with
 * its connection, so a replica that dies while migrating does not hold it. SQLite has a single
 * writer anyway.
 */
async function runMigrationsLocked(ds: DataSource, logger: AppLogger): Promise<{ name: string }[]> {
  if (ds.options.type === 'better-sqlite3') return ds.runMigrations({ transaction: 'each' });
  const lock = ds.createQueryRunner();
  try {
    await lock.connect();
    const started = Date.now();
    const got = (await lock.query('SELECT GET_LOCK(?, ?) AS got', [MIGRATION_LOCK, MIGRATION_LOCK_SECONDS])) as {
      got: number | string | null;
    }[];
    if (Number(got[0]?.got) !== 1) {
      throw new Error(`another replica held the migration lock for ${MIGRATION_LOCK_SECONDS} s; start-up gives up`);
    }
    const waitedMs = Date.now() - started;
    if (waitedMs >= 1000) logger.emit('info', "waited for another replica's migrations", { waitedMs });
    try {
      return await ds.runMigrations({ transaction: 'each' });
    } finally {
      await lock.query('SELECT RELEASE_LOCK(?)', [MIGRATION_LOCK]);
    }
  } finally {
    await lock.release();
  }
}

async function isMariaDb(ds: DataSource): Promise<boolean> {
  const rows = await ds.query<{ v: string }[]>('SELECT VERSION() AS v');
  return /mariadb/i.test(rows[0]?.v ?? '');
}

@Injectable()
class DatabaseCloser implements OnApplicationShutdown {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(AppLogger) private readonly logger: AppLogger,
  ) {}
  async onApplicationShutdown(): Promise<void> {
    if (!this.ds.isInitialized) return;
    // A server that dropped off the network never answers the goodbye: do not wait for it forever.
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.config.databaseTimeoutMs);
    });
    const closed = this.ds.destroy().then(() => false);
    const timedOut = await Promise.race([closed, gaveUp]);
    clearTimeout(timer);
    if (timedOut) this.logger.emit('warn', 'the database did not close in time; exiting without waiting for it');
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
    { provide: APP_FILTER, useClass: DatabaseUnavailableFilter },
  ],
  exports: [DataSource, DatabaseService],
})
export class DatabaseModule {}
