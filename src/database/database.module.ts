import { Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { DataSourceOptions } from 'typeorm';
import { databaseConfig } from '../config/namespaces.js';
import type { DatabaseNamespace } from '../config/namespaces.js';
import { AppLogger } from '../logging/app-logger.js';
import { dataSourceOptions } from './data-source-options.js';
import type { EntityList } from './data-source-options.js';
import { DatabaseUnavailableFilter } from './database-unavailable.filter.js';
import { DatabaseService } from './database.service.js';
import { enforceMysqlDeadlines } from './mysql-deadlines.js';

/** What {@link openDatabase} does besides opening the database. */
export interface OpenDatabaseOptions {
  /** Apply pending migrations first (default true). */
  readonly migrate?: boolean;
  /** The entity classes TypeORM maps (the server's come from the modules' `forFeature`). */
  readonly entities?: EntityList;
}

/**
 * Opens the database and, unless `migrate` is false, applies pending migrations before
 * anything else starts. Then bounds every later wait by DATABASE_TIMEOUT_MS (migrations
 * themselves may run longer), closing included.
 */
export async function openDatabase(
  config: DatabaseNamespace,
  logger: AppLogger,
  { migrate = true, entities = [] }: OpenDatabaseOptions = {},
): Promise<DataSource> {
  const create = (kind?: 'mysql' | 'mariadb'): DataSource =>
    new BoundedCloseDataSource(
      dataSourceOptions(config.connection, config.poolSize, kind, config.timeoutMs, entities),
      config.timeoutMs,
      logger,
    );
  let ds = create();
  await ds.initialize();
  if (ds.options.type === 'mysql' && (await isMariaDb(ds))) {
    // TypeORM reads MariaDB's catalogue differently (e.g. DEFAULT NULL); tell it what it talks to.
    await ds.destroy();
    ds = create('mariadb');
    await ds.initialize();
  }
  const applied = migrate ? await runMigrationsLocked(ds, logger) : [];
  if (ds.options.type === 'better-sqlite3') {
    // From here on a lock is waited for by DatabaseService, without blocking the event loop.
    await ds.query('PRAGMA busy_timeout = 0');
  } else {
    enforceMysqlDeadlines(ds, config.timeoutMs);
  }
  if (migrate) {
    logger.emit('info', 'database ready', {
      driver: config.connection.driver,
      ...(config.connection.driver === 'sqlite'
        ? { path: config.connection.path }
        : { database: config.connection.database }),
      migrationsApplied: applied.map((m) => m.name),
    });
  }
  return ds;
}

/**
 * A data source whose `destroy()` gives up after DATABASE_TIMEOUT_MS: a server that dropped off
 * the network never answers the goodbye, and shutdown (TypeOrmModule closes the data source in
 * its shutdown hook) must not wait for it forever.
 */
class BoundedCloseDataSource extends DataSource {
  constructor(
    options: DataSourceOptions,
    private readonly closeTimeoutMs: number,
    private readonly appLogger: AppLogger,
  ) {
    super(options);
  }

  override async destroy(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.closeTimeoutMs);
    });
    const closed = super.destroy().then(() => false);
    const timedOut = await Promise.race([closed, gaveUp]);
    clearTimeout(timer);
    if (timedOut) this.appLogger.emit('warn', 'the database did not close in time; exiting without waiting for it');
  }
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

/** Where the server's TypeORM options carry what {@link openDatabase} needs besides them. */
const OPEN_WITH = Symbol('openDatabase settings');
type ServerTypeOrmOptions = TypeOrmModuleOptions & {
  readonly [OPEN_WITH]: { readonly config: DatabaseNamespace; readonly logger: AppLogger };
};

/** TypeORM as Nest modules use it, from the checked configuration; each module registers its own entities. */
function typeOrmOptions(config: DatabaseNamespace, logger: AppLogger): ServerTypeOrmOptions {
  return {
    ...dataSourceOptions(config.connection, config.poolSize, undefined, config.timeoutMs),
    // The entities of every `TypeOrmModule.forFeature` in the application; this module names none.
    autoLoadEntities: true,
    // A database that cannot be opened (or migrated) stops the start at once, as it always did:
    // the orchestrator restarts the pod, no silent retry loop hides the cause.
    toRetry: () => false,
    [OPEN_WITH]: { config, logger },
  };
}

/** Opens the data source TypeOrmModule serves, with the entities it collected from the modules. */
async function openServerDatabase(options?: DataSourceOptions): Promise<DataSource> {
  const settings = (options as Partial<ServerTypeOrmOptions> | undefined)?.[OPEN_WITH];
  if (options === undefined || settings === undefined) throw new Error('the TypeORM options lack the server settings');
  return openDatabase(settings.config, settings.logger, { entities: options.entities ?? [] });
}

/**
 * The database for the whole application: TypeOrmModule's data source (injected with
 * `@InjectDataSource()`, repositories with `@InjectRepository()` in the modules that own the
 * entities), migrated at start-up, and DatabaseService for hand-written SQL.
 */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY, AppLogger],
      useFactory: typeOrmOptions,
      dataSourceFactory: openServerDatabase,
    }),
  ],
  providers: [DatabaseService, { provide: APP_FILTER, useClass: DatabaseUnavailableFilter }],
  exports: [DatabaseService],
})
export class DatabaseModule {}
