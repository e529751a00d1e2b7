import type { DataSource } from 'typeorm';

/** Every table the service writes. */
const TABLES = ['devices', 'enrollments', 'users', 'certificate_bindings', 'token_replays'];

/** Every row of every table the service writes, in a stable order, for "nothing changed" checks. */
export async function snapshot(ds: DataSource): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of TABLES) {
    const rows = await ds.query<Record<string, unknown>[]>(`SELECT * FROM ${table} ORDER BY 1`);
    out[table] = rows.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          Buffer.isBuffer(v) || v instanceof Uint8Array
            ? Buffer.from(v).toString('hex')
            : v instanceof Date
              ? v.toISOString()
              : v,
        ]),
      ),
    );
  }
  return out;
}

export async function count(ds: DataSource, table: string): Promise<number> {
  const rows = await ds.query<{ n: number | string }[]>(`SELECT COUNT(*) AS n FROM ${table}`);
  return Number(rows[0]?.n ?? 0);
}
