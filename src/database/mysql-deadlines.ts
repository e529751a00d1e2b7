import type { DataSource } from 'typeorm';
import { DatabaseTimeoutError } from './database.service.js';

type Callback = (err: Error | null, ...rest: unknown[]) => void;

/** The parts of a mysql2 pooled connection this file relies on. */
interface PooledConnection {
  query(...args: unknown[]): unknown;
  release(): void;
  destroy(): void;
  stream?: { destroy?: () => void };
}

interface Pool {
  getConnection(cb: (err: Error | null, conn?: PooledConnection) => void): void;
}

const guarded = new WeakSet<object>();

/**
 * Bounds every wait on MySQL/MariaDB by `ms`: taking a connection from the pool, and each
 * query on it.
 *
 * A server that drops packets instead of refusing them never answers; without this a request
 * waits for the kernel's TCP timeout (about a minute), holding its pooled connection while
 * every later request queues behind it. mysql2 has no acquire timeout, and its per-query
 * `timeout` leaves the command on the connection, so the next query on it would wait behind
 * the dead one: a query that outlives its deadline therefore destroys its connection (taking
 * it out of the pool for good) and fails with a {@link DatabaseTimeoutError}, which callers
 * map to 503.
 */
export function enforceMysqlDeadlines(ds: DataSource, ms: number): void {
  const pool = (ds.driver as unknown as { pool?: Pool }).pool;
  if (pool === undefined || guarded.has(pool)) return;
  guarded.add(pool);
  const getConnection = pool.getConnection.bind(pool);
  pool.getConnection = (cb) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      cb(new DatabaseTimeoutError(`no database connection within ${ms} ms`));
    }, ms);
    getConnection((err, conn) => {
      if (settled) {
        // Too late for the caller: hand the connection back for the next one.
        conn?.release();
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (conn !== undefined) guardQueries(conn, ms);
      cb(err, conn);
    });
  };
}

function guardQueries(conn: PooledConnection, ms: number): void {
  if (guarded.has(conn)) return;
  guarded.add(conn);
  const query = conn.query.bind(conn);
  conn.query = (...args: unknown[]): unknown => {
    const last = args.length - 1;
    const cb = args[last];
    if (typeof cb !== 'function') return query(...args);
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      // The socket may never close on its own when packets are dropped: cut it here.
      conn.destroy();
      conn.stream?.destroy?.();
      (cb as Callback)(new DatabaseTimeoutError(`the database did not answer within ${ms} ms`));
    }, ms);
    args[last] = (err: Error | null, ...rest: unknown[]): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      (cb as Callback)(err, ...rest);
    };
    return query(...args);
  };
}
