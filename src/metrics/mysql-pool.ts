import type { DataSource } from 'typeorm';

export interface PoolStats {
  readonly inUse: number;
  readonly idle: number;
  readonly waiting: number;
}

/** The parts of mysql2's pool (3.x) read here: it has no public counters, only these queues. */
interface Mysql2Pool {
  _allConnections?: { length?: unknown };
  _freeConnections?: { length?: unknown };
  _connectionQueue?: { length?: unknown };
}

/**
 * The connection counts of the mysql2 pool behind TypeORM's MySQL driver (`driver.pool`), or
 * undefined when there is none or its shape is not the one known (another mysql2 major version).
 */
export function mysqlPoolStats(dataSource: DataSource): PoolStats | undefined {
  const pool = (dataSource.driver as unknown as { pool?: Mysql2Pool }).pool;
  if (pool === undefined || pool === null) return undefined;
  const all = pool._allConnections?.length;
  const free = pool._freeConnections?.length;
  const queued = pool._connectionQueue?.length;
  if (typeof all !== 'number' || typeof free !== 'number' || typeof queued !== 'number') return undefined;
  return { inUse: all - free, idle: free, waiting: queued };
}
