import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/config.js';
import { CertificateBindingEntity } from '../device-identity/entities/certificate-binding.entity.js';
import { DeviceEntity } from '../enrollments/entities/device.entity.js';
import { EnrollmentEntity } from '../enrollments/entities/enrollment.entity.js';
import { UserEntity } from '../enrollments/entities/user.entity.js';
import { TokenReplayEntity } from '../tokens/entities/token-replay.entity.js';
import { MYSQL_MIGRATIONS } from './migrations/mysql/index.js';
import { SQLITE_MIGRATIONS } from './migrations/sqlite/index.js';

export const ENTITIES = [DeviceEntity, EnrollmentEntity, CertificateBindingEntity, TokenReplayEntity, UserEntity];

/**
 * TypeORM options for either driver. Schema changes come only from the committed
 * migrations; `synchronize` is never on.
 */
export function dataSourceOptions(
  db: DatabaseConfig,
  poolSize = 10,
  serverKind: 'mysql' | 'mariadb' = 'mysql',
  timeoutMs = 5000,
): DataSourceOptions {
  if (db.driver === 'sqlite') {
    if (db.path !== ':memory:') mkdirSync(dirname(db.path), { recursive: true });
    return {
      type: 'better-sqlite3',
      database: db.path,
      entities: ENTITIES,
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
    entities: ENTITIES,
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
