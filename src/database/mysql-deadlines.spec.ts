import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { DatabaseTimeoutError, isDatabaseUnavailable } from './database.service.js';
import { enforceMysqlDeadlines } from './mysql-deadlines.js';

type Cb = (err: Error | null, result?: unknown) => void;

/** A pooled connection whose queries answer only when the test says so. */
class FakeConnection {
  destroyed = false;
  released = 0;
  streamDestroyed = false;
  readonly pending: Cb[] = [];
  stream = { destroy: (): void => void (this.streamDestroyed = true) };
  query(_sql: string, _values: unknown[], cb: Cb): void {
    this.pending.push(cb);
  }
  release(): void {
    this.released++;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

class FakePool {
  readonly waiting: ((err: Error | null, conn?: FakeConnection) => void)[] = [];
  getConnection(cb: (err: Error | null, conn?: FakeConnection) => void): void {
    this.waiting.push(cb);
  }
}

function setup(ms: number): { pool: FakePool; acquire: () => Promise<FakeConnection> } {
  const pool = new FakePool();
  enforceMysqlDeadlines({ driver: { pool } } as unknown as DataSource, ms);
  const acquire = (): Promise<FakeConnection> =>
    new Promise((resolve, reject) => pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn!))));
  return { pool, acquire };
}

const query = (conn: FakeConnection): Promise<unknown> =>
  new Promise((resolve, reject) => conn.query('SELECT 1', [], (err, r) => (err ? reject(err) : resolve(r))));

describe('enforceMysqlDeadlines', () => {
  it('fails a pool wait past the bound, and hands a connection that comes later back to the pool', async () => {
    const { pool, acquire } = setup(20);
    const waiting = acquire();
    await assert.rejects(waiting, (err: unknown) => err instanceof DatabaseTimeoutError && isDatabaseUnavailable(err));
    const late = new FakeConnection();
    pool.waiting[0]?.(null, late);
    assert.equal(late.released, 1);
  });

  it('passes answers through, and a query past the bound destroys its connection so the pool never reuses it', async () => {
    const { pool, acquire } = setup(30);
    const got = acquire();
    const conn = new FakeConnection();
    pool.waiting[0]?.(null, conn);
    const c = await got;

    const answered = query(c);
    conn.pending[0]?.(null, [{ one: 1 }]);
    assert.deepEqual(await answered, [{ one: 1 }]);
    assert.equal(conn.destroyed, false);

    const stuck = query(c);
    await assert.rejects(stuck, (err: unknown) => err instanceof DatabaseTimeoutError && isDatabaseUnavailable(err));
    assert.equal(conn.destroyed, true);
    assert.equal(conn.streamDestroyed, true);
    // The server's answer arriving after all is dropped, not delivered twice.
    assert.doesNotThrow(() => conn.pending[1]?.(null, []));
  });
});
