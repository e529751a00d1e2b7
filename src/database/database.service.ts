import { AsyncLocalStorage } from 'node:async_hooks';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';
import type { ConfigType } from '@nestjs/config';
import { databaseConfig } from '../config/namespaces.js';

export type Driver = 'sqlite' | 'mysql';

/** What DatabaseService uses of mysql2's callback pool. */
interface MysqlPool {
  query(sql: string, values: readonly unknown[], cb: (err: Error | null, result?: unknown) => void): void;
}

/** Something raw SQL can run on: the pool, or one transaction's connection. */
export interface SqlRunner {
  query<T = unknown>(sql: string, params?: readonly unknown[]): Promise<T>;
}

/** MySQL error codes that mean "try again": the transaction was chosen as a deadlock victim. */
const RETRYABLE_MYSQL = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);
const MAX_ATTEMPTS = 5;
/** SQLite's "another connection holds the lock" (SQLITE_BUSY_SNAPSHOT and friends start with it). */
const SQLITE_BUSY = /^SQLITE_BUSY/;

/** The database did not answer, or stayed locked, within `DATABASE_TIMEOUT_MS`. */
export class DatabaseTimeoutError extends Error {
  readonly code = 'DATABASE_TIMEOUT';
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseTimeoutError';
  }
}

/**
 * The one door to the database for hand-written SQL: transactions that are really
 * isolated on both drivers, and the few places where SQLite and MySQL spell things
 * differently.
 *
 * SQLite runs on one connection. TypeORM turns a transaction started while another is open
 * on that connection into a SAVEPOINT inside it, and a plain statement issued meanwhile would
 * run inside that other request's transaction (and vanish with its rollback); so on SQLite
 * every transaction and every statement issued here is queued, one at a time. (Never call
 * `query` from inside `transaction`: use the runner it passes.)
 *
 * SQLite waits for another process's lock here, not in the driver: better-sqlite3 is
 * synchronous, so its busy_timeout would stop the whole event loop (health probes, the admin
 * API) while one request waits. The connection fails at once when locked (busy_timeout 0
 * once migrations ran) and the work is tried again after a pause, until `DATABASE_TIMEOUT_MS`.
 *
 * MySQL deadlock victims are run again on every path, single statements included.
 */
@Injectable()
export class DatabaseService {
  /** mysql2's pool under TypeORM's MySQL driver; undefined on SQLite. */
  private readonly pool: MysqlPool | undefined;
  readonly driver: Driver;
  private readonly timeoutMs: number;
  private sqliteQueue: Promise<unknown> = Promise.resolve();
  /** The transaction opened by {@link enclosingTransaction} that the current async flow runs in. */
  private readonly enclosing = new AsyncLocalStorage<{ tx: SqlRunner; savepoints: number }>();

  constructor(
    @InjectDataSource() readonly dataSource: DataSource,
    @Inject(databaseConfig.KEY) config: ConfigType<typeof databaseConfig>,
  ) {
    this.driver = dataSource.options.type === 'better-sqlite3' ? 'sqlite' : 'mysql';
    this.timeoutMs = config.timeoutMs;
    this.pool = this.driver === 'mysql' ? (dataSource.driver as unknown as { pool?: MysqlPool }).pool : undefined;
  }

  /** Runs `work` in one transaction; commits when it resolves, rolls back when it throws. */
  async transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T> {
    const outer = this.enclosing.getStore();
    if (outer !== undefined) return nested(outer, work);
    if (this.driver === 'sqlite') return this.sqlite(() => this.dataSource.transaction((m) => work(runner(m))));
    // READ COMMITTED: no gap locks on missing rows, so two devices enrolling at once do not
    // deadlock on the gaps between their (not yet existing) rows, as they can under
    // REPEATABLE READ. Every write here is keyed by primary or unique key.
    return this.mysql(() => this.dataSource.transaction('READ COMMITTED', (m) => work(runner(m))));
  }

  /** A single statement outside any explicit transaction (atomic on its own). */
  query<T = unknown>(sql: string, params: readonly unknown[] = []): Promise<T> {
    const outer = this.enclosing.getStore();
    if (outer !== undefined) return outer.tx.query<T>(sql, params);
    if (this.driver === 'sqlite') return this.sqlite(() => this.dataSource.query<T>(sql, params as unknown[]));
    // A single statement goes straight to mysql2's pool: TypeORM's query runner around it (a
    // runner made and released per call, its subscriber and logger hooks) was ~6 % of a
    // TokenUpdate's CPU. The pool's connections keep DATABASE_TIMEOUT_MS (enforceMysqlDeadlines
    // wraps the pool itself), and errors carry the same driver codes.
    const pool = this.pool;
    const run =
      pool === undefined
        ? (): Promise<T> => this.dataSource.query<T>(sql, params as unknown[])
        : (): Promise<T> =>
            new Promise<T>((resolve, reject) => {
              pool.query(sql, params, (err, result) => (err ? reject(err) : resolve(result as T)));
            });
    return this.mysql(run);
  }

  /** A deadlock victim was rolled back whole (statement or transaction): running it again is safe. */
  private async mysql<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || !RETRYABLE_MYSQL.has(driverCode(err) ?? '')) throw err;
      }
    }
  }

  /**
   * One at a time on the shared connection; while another process holds the write lock, tried
   * again after growing pauses. The connection is free during a pause (the attempt rolled
   * back), so other work, such as the admin API's reads, goes on meanwhile. The bound counts
   * from the call, time spent queued included.
   */
  private async sqlite<T>(work: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
      const attempt = await this.serialized(async (): Promise<{ done: true; value: T } | { done: false }> => {
        try {
          return { done: true, value: await work() };
        } catch (err) {
          if (SQLITE_BUSY.test(driverCode(err) ?? '')) return { done: false };
          throw err;
        }
      });
      if (attempt.done) return attempt.value;
      if (Date.now() + pause > deadline) {
        throw new DatabaseTimeoutError(`the SQLite database stayed locked for ${this.timeoutMs} ms`);
      }
      await sleep(pause);
    }
  }

  /**
   * Runs `work` in one transaction that every `transaction` and `query` called through this
   * service from inside it (same async flow) joins, a nested transaction as a savepoint: for
   * middleware whose own write must commit or roll back with a handler that opens its own
   * transactions (the retroactive certificate binding).
   */
  enclosingTransaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T> {
    return this.transaction((tx) => this.enclosing.run({ tx, savepoints: 0 }, () => work(tx)));
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.sqliteQueue.then(work);
    this.sqliteQueue = run.catch(() => undefined);
    return run;
  }

  /** A date as the driver stores it: UTC `DATETIME` text on SQLite (as TypeORM writes it), a Date on MySQL. */
  date(d: Date): Date | string {
    return this.driver === 'sqlite' ? d.toISOString().replace('T', ' ').replace('Z', '') : d;
  }

  /** A DATETIME read by raw SQL: a Date on MySQL, UTC text on SQLite. */
  readDate(v: Date | string): Date {
    return v instanceof Date ? v : new Date(`${v.replace(' ', 'T')}Z`);
  }

  /** Rows changed by an UPDATE/DELETE, from either driver's result shape. */
  affectedRows(result: unknown): number {
    if (Array.isArray(result)) {
      // TypeORM returns [rows, affected] for UPDATE on some drivers.
      const n: unknown = result[1];
      return typeof n === 'number' ? n : 0;
    }
    if (typeof result === 'object' && result !== null) {
      const r = result as { affectedRows?: unknown };
      if (typeof r.affectedRows === 'number') return r.affectedRows;
    }
    return 0;
  }

  /**
   * Runs one UPDATE (or DELETE) on `runner` and returns how many rows it changed, on either
   * driver. TypeORM hands back no count for a plain UPDATE on SQLite (the last insert id
   * instead), so there the statement returns a row per changed row.
   */
  async changedRows(runner: SqlRunner, sql: string, params: readonly unknown[]): Promise<number> {
    if (this.driver === 'sqlite')
      return (await runner.query<unknown[]>(`${sql} RETURNING 1 AS changed`, params)).length;
    return this.affectedRows(await runner.query(sql, params));
  }
}

function runner(m: EntityManager): SqlRunner {
  return { query: <T>(sql: string, params: readonly unknown[] = []) => m.query<T>(sql, params as unknown[]) };
}

/** A transaction inside an enclosing one: a savepoint, so it still rolls back alone when it throws. */
async function nested<T>(
  outer: { tx: SqlRunner; savepoints: number },
  work: (tx: SqlRunner) => Promise<T>,
): Promise<T> {
  outer.savepoints += 1;
  const name = `nested_${outer.savepoints}`;
  await outer.tx.query(`SAVEPOINT ${name}`);
  let result: T;
  try {
    result = await work(outer.tx);
  } catch (err) {
    // A deadlock has already rolled the whole transaction back, savepoint included: the
    // enclosing transaction sees the original error either way.
    await outer.tx.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
    throw err;
  }
  await outer.tx.query(`RELEASE SAVEPOINT ${name}`);
  return result;
}

function driverCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  if (typeof e.code === 'string') return e.code;
  if (typeof e.driverError?.code === 'string') return e.driverError.code;
  return undefined;
}

const UNIQUE_VIOLATION = new Set(['ER_DUP_ENTRY', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);
const FK_VIOLATION = new Set(['ER_NO_REFERENCED_ROW_2', 'ER_NO_REFERENCED_ROW', 'SQLITE_CONSTRAINT_FOREIGNKEY']);

/** A unique or primary key was already taken. */
export function isUniqueViolation(err: unknown): boolean {
  return UNIQUE_VIOLATION.has(driverCode(err) ?? '');
}

/** A foreign key pointed at a row that does not exist. */
export function isForeignKeyViolation(err: unknown): boolean {
  return FK_VIOLATION.has(driverCode(err) ?? '');
}

/** Error codes meaning the database cannot be reached right now (not a bug of ours). */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'POOL_CLOSED',
  'DATABASE_TIMEOUT',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_FULL',
]);

/** Whether `err` says the database is down or overloaded, so the client should retry later. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = driverCode(err);
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) return true;
  if (err instanceof Error) {
    return /Pool is closed|Connection lost|connect ECONNREFUSED|Can't add new command when connection is in closed state|closed state/i.test(
      err.message,
    );
  }
  return false;
}
