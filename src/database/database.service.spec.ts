import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/config.js';
import { databaseConfig } from '../config/namespaces.js';
import { DatabaseService } from './database.service.js';

describe('DatabaseService.enclosingTransaction', () => {
  let ds: DataSource;
  let db: DatabaseService;
  before(async () => {
    ds = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    await ds.initialize();
    await ds.query('CREATE TABLE t (v TEXT PRIMARY KEY)');
    db = new DatabaseService(ds, databaseConfig.slice(loadConfig({})));
  });
  after(async () => {
    await ds.destroy();
  });

  const values = async (): Promise<string[]> =>
    (await db.query<{ v: string }[]>('SELECT v FROM t ORDER BY v')).map((r) => r.v);

  it('commits the work of transactions and statements started inside it together', async () => {
    await db.enclosingTransaction(async (tx) => {
      await db.transaction((inner) => inner.query("INSERT INTO t VALUES ('a')"));
      await db.query("INSERT INTO t VALUES ('b')");
      await tx.query("INSERT INTO t VALUES ('c')");
    });
    assert.deepEqual(await values(), ['a', 'b', 'c']);
    await db.query('DELETE FROM t');
  });

  it('rolls everything back, inner transactions included, when it throws', async () => {
    await assert.rejects(
      db.enclosingTransaction(async (tx) => {
        await db.transaction((inner) => inner.query("INSERT INTO t VALUES ('a')"));
        await tx.query("INSERT INTO t VALUES ('a')"); // primary key taken
      }),
    );
    assert.deepEqual(await values(), []);
  });

  it('rolls back only an inner transaction that throws, when the enclosing one goes on', async () => {
    await db.enclosingTransaction(async (tx) => {
      await tx.query("INSERT INTO t VALUES ('kept')");
      await assert.rejects(
        db.transaction(async (inner) => {
          await inner.query("INSERT INTO t VALUES ('undone')");
          throw new Error('the inner work fails');
        }),
        /the inner work fails/,
      );
    });
    assert.deepEqual(await values(), ['kept']);
    await db.query('DELETE FROM t');
  });

  it('leaves transactions outside it alone', async () => {
    await db.transaction((tx) => tx.query("INSERT INTO t VALUES ('x')"));
    assert.deepEqual(await values(), ['x']);
  });
});
