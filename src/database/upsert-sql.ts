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

  /** INSERT of one row that applies `updates` when its primary key `id` exists, in either dialect. */
  statement(table: string, columns: readonly string[], updates: readonly string[], sqliteReturning = ''): string {
    const insert = `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) `;
    return this.sqlite
      ? `${insert}ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}${sqliteReturning}`
      : `${insert}ON DUPLICATE KEY UPDATE ${updates.join(', ')}`;
  }
}
