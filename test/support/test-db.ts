import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';

/**
 * A throw-away database for one test file: a new SQLite file, or a new database on the
 * MySQL/MariaDB server named by TEST_DATABASE_URL (`mysql://root@127.0.0.1:3306/test`).
 * The application then creates its schema through its real migrations.
 */
export interface TestDatabase {
  readonly driver: 'sqlite' | 'mysql';
  /** The DATABASE_URL the application under test gets. */
  readonly url: string;
  readonly dataDir: string;
  drop(): Promise<void>;
}

export function testDriver(): 'sqlite' | 'mysql' {
  const url = process.env.TEST_DATABASE_URL ?? 'sqlite:';
  return url.startsWith('mysql://') || url.startsWith('mariadb://') ? 'mysql' : 'sqlite';
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdm-test-'));
  if (testDriver() === 'sqlite') {
    return {
      driver: 'sqlite',
      url: `sqlite:${join(dataDir, 'mdm.sqlite')}`,
      dataDir,
      drop: () => {
        rmSync(dataDir, { recursive: true, force: true });
        return Promise.resolve();
      },
    };
  }
  const server = new URL(process.env.TEST_DATABASE_URL ?? '');
  const name = `mdm_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new DataSource({ type: 'mysql', url: server.toString() });
  await admin.initialize();
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await admin.destroy();
  const url = new URL(server.toString());
  url.pathname = `/${name}`;
  return {
    driver: 'mysql',
    url: url.toString(),
    dataDir,
    drop: async () => {
      const a = new DataSource({ type: 'mysql', url: server.toString() });
      await a.initialize();
      await a.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await a.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A plain connection to a test database, to read what the app (or another process) wrote. */
export async function directView(db: TestDatabase): Promise<DataSource> {
  const ds =
    db.driver === 'mysql'
      ? new DataSource({ type: 'mysql', url: db.url })
      : new DataSource({ type: 'better-sqlite3', database: db.url.slice('sqlite:'.length) });
  await ds.initialize();
  return ds;
}
