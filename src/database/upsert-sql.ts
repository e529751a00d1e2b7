/**
 * The few words of an upsert that SQLite and MySQL/MariaDB spell differently, for the
 * repositories' hand-written SQL (MariaDB has no MySQL 8 row alias: `VALUES(col)` works on both).
 */
export class UpsertSql {
  constructor(private readonly sqlite: boolean) {}

  /** `col = <the value just sent>` in an upsert's update list. */
  fresh(c: string): string {
    return this.sqlite ? `${c} = excluded.${c}` : `${c} = VALUES(${c})`;
  }

  /** `col = <the value just sent, or the stored one when the new one is NULL>`. */
  keep(table: string, c: string): string {
    return this.sqlite ? `${c} = COALESCE(excluded.${c}, ${table}.${c})` : `${c} = COALESCE(VALUES(${c}), ${c})`;
  }

  /** `SELECT <what>` that yields one row when the guard holds and none otherwise, in either dialect. */
  guardedSelect(what: string, guard: { readonly sql: string }): string {
    return `SELECT ${what} FROM (SELECT 1 AS one) AS guarded WHERE ${guard.sql}`;
  }

  /**
   * INSERT of one row that applies `updates` when its primary key `id` exists, in either
   * dialect. With a `guard` (a boolean SQL expression; its parameters follow the row's) the row
   * is written only when the guard holds, in the same statement.
   */
  statement(
    table: string,
    columns: readonly string[],
    updates: readonly string[],
    sqliteReturning = '',
    guard?: { readonly sql: string },
  ): string {
    const placeholders = columns.map(() => '?').join(', ');
    // With a guard the row comes from a SELECT that yields it only when the guard holds
    // (SQLite needs the WHERE there anyway, to tell the upsert's ON from a join's).
    const source = guard === undefined ? `VALUES (${placeholders})` : this.guardedSelect(placeholders, guard);
    const insert = `INSERT INTO ${table} (${columns.join(', ')}) ${source} `;
    return this.sqlite
      ? `${insert}ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}${sqliteReturning}`
      : `${insert}ON DUPLICATE KEY UPDATE ${updates.join(', ')}`;
  }
}
