import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/config.js';
import { MYSQL_MIGRATIONS } from './migrations/mysql/index.js';
import { SQLITE_MIGRATIONS } from './migrations/sqlite/index.js';

/** What `entities` may hold: the classes each module registers (this folder names none of them). */
export type EntityList = NonNullable<DataSourceOptions['entities']>;

/**
 * TypeORM options for either driver. Schema changes come only from the committed
 * migrations; `synchronize` is never on. The entities come from the caller: in the server
 * the modules register their own (`TypeOrmModule.forFeature`), the CLI data source lists them.
 */
export function dataSourceOptions(
  db: DatabaseConfig,
  poolSize = 10,
  serverKind: 'mysql' | 'mariadb' = 'mysql',
  timeoutMs = 5000,
  entities: EntityList = [],
): DataSourceOptions {
  if (db.driver === 'sqlite') {
    if (db.path !== ':memory:') mkdirSync(dirname(db.path), { recursive: true });
    return {
      type: 'better-sqlite3',
      database: db.path,
      entities,
      migrations: SQLITE_MIGRATIONS,
      migrationsTableName: 'migrations',
      synchronize: false,
      enableWAL: db.path !== ':memory:',
      prepareDatabase: (conn: { pragma(source: string): unknown }) => {
        conn.pragma('foreign_keys = ON');
        // Blocks the event loop while it waits: only migrations at start-up rely on it (see DatabaseService).
        conn.pragma(`busy_timeout = ${timeoutMs}`);
        conn.pragma('synchronous = NORMAL');
      },
    };
  }
  return {
    type: serverKind,
    url: db.url,
    entities,
    migrations: MYSQL_MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    // Every DATETIME is UTC, whatever the server's or the process's time zone.
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    poolSize,
    connectTimeout: timeoutMs,
    // trace: false — mysql2 otherwise captures a stack trace for every query (measurable CPU).
    extra: { enableKeepAlive: true, waitForConnections: true, queueLimit: 0, trace: false },
  };
}
