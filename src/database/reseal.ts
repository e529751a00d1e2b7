import { SecretDecryptionError } from '../common/secret-box.js';
import type { SecretBox } from '../common/secret-box.js';
import { bootstrapTokenAad, unlockTokenAad } from '../enrollments/enrollments.service.js';
import type { AppLogger } from '../logging/app-logger.js';
import type { DatabaseService } from './database.service.js';

/** A column holding SecretBox values, keyed by the row's primary key `id`. */
export interface SealedColumn {
  readonly table: string;
  readonly column: string;
  /** The aad the value was sealed with, from the row id. */
  readonly aad: (id: string) => string;
}

/** Every sealed column of the schema. A new one must be listed here, or a key rotation leaves it behind. */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: 'devices', column: 'unlock_token', aad: unlockTokenAad },
  { table: 'devices', column: 'bootstrap_token', aad: bootstrapTokenAad },
];

export interface ResealCounts {
  examined: number;
  resealed: number;
  alreadyCurrent: number;
  /** Written by the server between our read and our write: left as the server wrote it (current key). */
  changedMeanwhile: number;
  failed: number;
}

/**
 * Seals every value of `col` again under the current key, in batches by primary key. Each
 * row is its own compare-and-set write, so the server can keep running, and a run that stops
 * half-way is resumed by running it again: values already under the current key are skipped.
 */
export async function resealColumn(
  db: DatabaseService,
  box: SecretBox,
  col: SealedColumn,
  logger: AppLogger,
  batchSize = 500,
  onBatch?: (counts: ResealCounts, lastId: string) => void,
): Promise<ResealCounts> {
  const counts: ResealCounts = { examined: 0, resealed: 0, alreadyCurrent: 0, changedMeanwhile: 0, failed: 0 };
  let after = '';
  for (;;) {
    const rows = await db.query<{ id: string; v: Buffer | Uint8Array }[]>(
      `SELECT id, ${col.column} AS v FROM ${col.table} WHERE id > ? AND ${col.column} IS NOT NULL ORDER BY id LIMIT ?`,
      [after, batchSize],
    );
    if (rows.length === 0) return counts;
    for (const row of rows) {
      counts.examined++;
      const sealed = Buffer.from(row.v);
      if (box.isCurrent(sealed)) {
        counts.alreadyCurrent++;
        continue;
      }
      const aad = col.aad(row.id);
      let fresh: Buffer;
      try {
        fresh = box.seal(box.open(sealed, aad), aad);
      } catch (err) {
        if (!(err instanceof SecretDecryptionError)) throw err;
        counts.failed++;
        logger.emit('error', 'cannot reseal a stored secret', {
          location: err.location,
          keyId: err.keyId,
          hint: err.hint,
        });
        continue;
      }
      // Only if the row still holds what was read: a value the server wrote meanwhile stays.
      const cas = `UPDATE ${col.table} SET ${col.column} = ? WHERE id = ? AND ${col.column} = ?`;
      const written = await db.changedRows(db, cas, [fresh, row.id, sealed]);
      if (written === 1) counts.resealed++;
      else counts.changedMeanwhile++;
    }
    after = rows[rows.length - 1]?.id ?? after;
    onBatch?.(counts, after);
  }
}
